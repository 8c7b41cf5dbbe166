"""End-to-end steps per system: record building, training, testing, and user-facing helpers."""
