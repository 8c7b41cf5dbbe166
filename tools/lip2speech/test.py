#!/usr/bin/env python3
"""The seed's test.py: same flags as ``avse lip2speech test`` (--grid --checkpoint --batch_size --save_mel --save_wav --dataparallel --gpu)."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "test", *sys.argv[1:]]))
