#!/usr/bin/env python3
"""The original project's entry point: ``av_speech_enhancement.py <subcommand> [flags]``.

Same code as ``avse enhancement <subcommand>``; kept so the seed's commands work unchanged.
"""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["enhancement", *sys.argv[1:]]))
