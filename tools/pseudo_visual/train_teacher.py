#!/usr/bin/env python3
"""The teacher's training (Wav2Lip's ``wav2lip_train.py``): same flags as ``avse denoising train_teacher``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "train_teacher", *sys.argv[1:]]))
