#!/usr/bin/env python3
"""The multi-language VCA-GAN seed's ``preprocess_audio_only.py``: same flags as ``avse lip2speech preprocess_audio_only``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "preprocess_audio_only", *sys.argv[1:]]))
