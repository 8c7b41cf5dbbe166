#!/usr/bin/env python3
"""The seed's ``lipsync/inference.py`` (pseudo-visual denoising): same flags as ``avse denoising lipsync``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "lipsync", *sys.argv[1:]]))
