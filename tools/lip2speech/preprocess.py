#!/usr/bin/env python3
"""All of the seed's preprocessing in one run (no seed script of that name): same flags as ``avse lip2speech preprocess``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "preprocess", *sys.argv[1:]]))
