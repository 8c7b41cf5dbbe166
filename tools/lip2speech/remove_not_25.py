#!/usr/bin/env python3
"""The multi-language VCA-GAN seed's ``remove_not_25.py``: same flags as ``avse lip2speech remove_not_25``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "remove_not_25", *sys.argv[1:]]))
