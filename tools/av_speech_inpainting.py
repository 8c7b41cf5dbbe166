#!/usr/bin/env python3
"""Entry point named like the seed's project (Audio-Visual-Speech-Inpainter): ``av_speech_inpainting.py
<subcommand> [flags]``; the same code as ``avse inpainting <subcommand>``."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["inpainting", *sys.argv[1:]]))
