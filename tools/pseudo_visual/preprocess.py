#!/usr/bin/env python3
"""The seed's ``preprocess.py`` (pseudo-visual denoising): same flags as ``avse denoising preprocess``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "preprocess", *sys.argv[1:]]))
