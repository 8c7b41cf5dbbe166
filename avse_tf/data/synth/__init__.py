"""Synthetic GRID-layout audio-visual corpus: espeak-ng speech + a rendered talking face."""
