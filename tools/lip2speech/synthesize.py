#!/usr/bin/env python3
"""Speech for one silent video: same flags as ``avse lip2speech synthesize`` (--video --checkpoint --output)."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "synthesize", *sys.argv[1:]]))
