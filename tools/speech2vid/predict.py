#!/usr/bin/env python3
"""The seed's ``predict.py`` (Speech2Vid re-implementation): same flags as ``avse speech2vid predict``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["speech2vid", "predict", *sys.argv[1:]]))
