"""The synthetic GRID corpus: layout, determinism, resumability, and a face dlib can track."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from avse_tf.audio.io import load_audio
from avse_tf.data import grid
from avse_tf.data.synth.corpus import generate_grid_corpus
from avse_tf.video.io import probe, read_video


def _digest(root):
    digest = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            digest[os.path.relpath(path, root)] = hashlib.md5(Path(path).read_bytes()).hexdigest()
    return digest


@pytest.mark.media
def test_layout_and_formats(small_corpus):
    root, description = small_corpus
    assert grid.list_speakers(root) == ["s1", "s2"]
    for speaker in description["speakers"]:
        ids = grid.list_utterances(root, speaker["name"])
        assert ids == sorted(speaker["utterances"]) and len(ids) == 3
        for utterance_id in ids:
            words = grid.id_to_sentence(utterance_id)  # a valid GRID id
            audio = load_audio(os.path.join(root, speaker["name"], "audio", f"{utterance_id}.wav"), None)
            assert audio.shape == (48000,)
            assert 0.1 < np.abs(audio).max() < 1.0
            video = os.path.join(root, speaker["name"], "video", f"{utterance_id}.mpg")
            info = probe(video)
            assert (info["width"], info["height"], info["fps"]) == (360, 288, 25.0)
            frames, _ = read_video(video)
            assert frames.shape == (75, 288, 360, 3)
            with open(video, "rb") as handle:
                assert handle.read(4) == b"\x00\x00\x01\xba"  # MPEG program stream pack header
            align = grid.read_align(os.path.join(root, speaker["name"], "align", f"{utterance_id}.align"))
            spoken = [word for word, _, _ in align if word not in ("sil", "sp")]
            assert tuple(spoken) == words
            assert align[0][0] == "sil" and align[-1] == ("sil", align[-1][1], 3.0)
            starts = [start for _, start, _ in align]
            assert starts == sorted(starts)


def test_speech_sits_inside_its_alignment(small_corpus):
    root, description = small_corpus
    speaker = description["speakers"][0]["name"]
    utterance_id = description["speakers"][0]["utterances"][0]
    audio = load_audio(os.path.join(root, speaker, "audio", f"{utterance_id}.wav"))
    align = grid.read_align(os.path.join(root, speaker, "align", f"{utterance_id}.align"))
    words = [(start, end) for word, start, end in align if word not in ("sil", "sp")]
    inside = np.zeros(audio.size, bool)
    for start, end in words:
        inside[int(start * 16000):int(end * 16000)] = True
    energy_inside = np.mean(audio[inside] ** 2)
    energy_outside = np.mean(audio[~inside] ** 2)
    assert energy_inside > 100 * energy_outside


@pytest.mark.media
def test_same_seed_same_bytes_and_resume(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    generate_grid_corpus(str(first), speakers=2, utterances=2, seed=7)
    generate_grid_corpus(str(second), speakers=2, utterances=2, seed=7)
    digest = _digest(first)
    assert len(digest) == 2 * 2 * 3 + 1
    assert digest == _digest(second)
    # A killed run leaves some files missing: running again restores exactly those bytes.
    removed = min(path for path in digest if path.endswith(".mpg"))
    os.remove(first / removed)
    generate_grid_corpus(str(first), speakers=2, utterances=2, seed=7)
    assert _digest(first) == digest
    other = tmp_path / "c"
    generate_grid_corpus(str(other), speakers=2, utterances=2, seed=8)
    assert _digest(other) != digest


def test_sample_rate_option(tmp_path):
    generate_grid_corpus(str(tmp_path), speakers=1, utterances=1, seed=3, sample_rate=8000)
    wav = next((tmp_path / "s1" / "audio").iterdir())
    import soundfile

    info = soundfile.info(str(wav))
    assert info.samplerate == 8000 and info.frames == 24000


def test_speakers_differ_in_voice(small_corpus):
    _, description = small_corpus
    first, second = description["speakers"]
    assert (first["voice"], first["pitch"]) != (second["voice"], second["pitch"])
    assert first["sex"] != second["sex"]


@pytest.mark.slow
def test_dlib_finds_the_face_and_the_mouth_follows_speech(small_corpus):
    """Acceptance: detector alone finds the face in >= 95 % of frames; lip opening tracks speech."""
    from face_checks import face_and_mouth

    root, description = small_corpus
    found, correlations = face_and_mouth(root, description)
    assert found >= 0.95
    assert min(correlations) > 0.5, correlations
