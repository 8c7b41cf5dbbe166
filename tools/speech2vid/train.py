#!/usr/bin/env python3
"""The seed's ``train.py`` (Speech2Vid re-implementation): same flags as ``avse speech2vid train``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["speech2vid", "train", *sys.argv[1:]]))
