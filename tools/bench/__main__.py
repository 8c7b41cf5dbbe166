"""``python -m tools.bench``: the same as ``python tools/bench/run.py``."""

import sys

from tools.bench.run import main

sys.exit(main())
