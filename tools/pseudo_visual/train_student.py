#!/usr/bin/env python3
"""The seed's ``lipsync/train_student.py`` (pseudo-visual denoising): same flags as ``avse denoising train_student``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "train_student", *sys.argv[1:]]))
