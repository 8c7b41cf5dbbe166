#!/usr/bin/env python3
"""The lip-sync expert's training (Wav2Lip's ``color_syncnet_train.py``): same flags as ``avse denoising train_syncnet``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["denoising", "train_syncnet", *sys.argv[1:]]))
