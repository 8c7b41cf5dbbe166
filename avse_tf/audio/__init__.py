"""Audio: file I/O, STFT with the papers' settings, features, phase reconstruction."""

from avse_tf.audio.io import load_audio, write_audio

__all__ = ["load_audio", "write_audio"]
