"""avse_tf benchmark suite: ``python tools/bench/run.py`` or ``python -m tools.bench`` (see README.md)."""
