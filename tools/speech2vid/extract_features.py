#!/usr/bin/env python3
"""The seed's ``extract_features.py`` (Speech2Vid re-implementation): same flags as ``avse speech2vid extract_features``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["speech2vid", "extract_features", *sys.argv[1:]]))
