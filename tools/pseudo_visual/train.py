#!/usr/bin/env python3
"""The seed's ``train.py`` (the pseudo-visual denoiser): same flags as ``avse denoising train``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "train", *sys.argv[1:]]))
