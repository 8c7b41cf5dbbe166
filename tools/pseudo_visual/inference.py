#!/usr/bin/env python3
"""The seed's ``inference.py`` (the pseudo-visual denoiser): same flags as ``avse denoising inference``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "inference", *sys.argv[1:]]))
