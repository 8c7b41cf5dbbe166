#!/usr/bin/env python3
"""The multi-language VCA-GAN seed's ``crop_video_processing.py``: same flags as ``avse lip2speech crop_video_processing``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "crop_video_processing", *sys.argv[1:]]))
