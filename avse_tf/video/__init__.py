"""Video: frame I/O, dlib landmarks with tracking, frame-rate alignment, face and mouth crops."""
