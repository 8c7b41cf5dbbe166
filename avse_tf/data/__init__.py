"""Corpora (GRID layout), mixing, masks, gaps, and the synthetic corpus generator."""
