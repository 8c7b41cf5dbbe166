#!/usr/bin/env python3
"""The seed's ``prepare_data.py`` (Speech2Vid re-implementation): same flags as ``avse speech2vid prepare_data``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["speech2vid", "prepare_data", *sys.argv[1:]]))
