#!/usr/bin/env python3
"""The seed's train.py: same flags as ``avse lip2speech train`` (--grid --checkpoint_dir --batch_size --epochs --eval_step --lr --dataparallel --gpu)."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["lip2speech", "train", *sys.argv[1:]]))
