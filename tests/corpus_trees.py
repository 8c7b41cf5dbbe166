"""Synthetic corpora rewritten as users' corpora arrive (shared by the corpus and recipe tests)."""

import os
import shutil

from avse_tf.audio.io import load_audio, resample, write_audio
from avse_tf.data import grid

GRID_RATE = 50000  # GRID's high-quality audio archives


def seed_clips(root):
    return [(speaker, clip) for speaker in grid.list_speakers(root) for clip in grid.list_utterances(root, speaker)]


def as_grid_distributed(seed_root, out, audio_root=None):
    """GRID's unpacked archives: s<k>/<id>.mpg, s<k>/<id>.wav at 50 kHz (in ``audio_root`` if
    given), align/s<k>/<id>.align."""
    for speaker, clip in seed_clips(seed_root):
        source = os.path.join(seed_root, speaker)
        os.makedirs(os.path.join(out, speaker), exist_ok=True)
        shutil.copyfile(os.path.join(source, "video", clip + ".mpg"), os.path.join(out, speaker, clip + ".mpg"))
        audio = load_audio(os.path.join(source, "audio", clip + ".wav"), None)
        write_audio(os.path.join(audio_root or out, speaker, clip + ".wav"), resample(audio, 16000, GRID_RATE),
                    GRID_RATE)
        os.makedirs(os.path.join(out, "align", speaker), exist_ok=True)
        shutil.copyfile(os.path.join(source, "align", clip + ".align"),
                        os.path.join(out, "align", speaker, clip + ".align"))
