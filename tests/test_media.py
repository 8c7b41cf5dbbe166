"""The same media results with any ffmpeg build (``AVSE_FFMPEG``, ``avse_tf.media``).

Every file is written by each build and read back by each build: imageio-ffmpeg's bundled one and
the distribution's on PATH (Debian 12's is ffmpeg 5.1, which does not trim AAC padding at the end
of an MP4 edit list, and every build starts MPEG-PS audio 481 samples before the first frame).
Asserted: the exact sample count an MP4 declares, the same count for MPEG-PS, the same number of
frames, and audio in sync with the video (lag 0 against what was written).

CI installs the distribution's ffmpeg (``.ci/run``); without one this module fails under CI and is
skipped elsewhere with the command to install it.
"""

import os
import shutil

import numpy as np
import pytest

from avse_tf.audio.io import load_audio
from avse_tf.errors import FFmpegError
from avse_tf.media import audio_sample_count, ffmpeg_executable
from avse_tf.video.io import read_video, write_video

pytestmark = pytest.mark.media


def _builds():
    import imageio_ffmpeg

    bundled = imageio_ffmpeg.get_ffmpeg_exe()
    system = shutil.which("ffmpeg")
    if not system or os.path.realpath(system) == os.path.realpath(bundled):
        message = "no distribution ffmpeg on PATH to compare with the bundled one; apt-get install ffmpeg"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {"bundled": bundled, "system": system}


@pytest.fixture(scope="module")
def builds():
    return _builds()


def _use(monkeypatch, choice):
    monkeypatch.setenv("AVSE_FFMPEG", choice)


def _lag(decoded, written, search=600):
    """Shift of ``decoded`` against ``written`` (positive: decoded is late), by cross-correlation."""
    n = min(decoded.size, written.size) - 2 * search
    scores = [np.dot(written[search:search + n], decoded[search + lag:search + lag + n])
              for lag in range(-search, search + 1)]
    return int(np.argmax(scores)) - search


@pytest.mark.parametrize("extension", [".mp4", ".mpg"])
@pytest.mark.parametrize("samples", [26000, 26007, 6401])
def test_every_build_writes_and_reads_the_same_samples_in_sync(builds, monkeypatch, tmp_path, extension, samples):
    rng = np.random.default_rng(samples)
    audio = (0.2 * rng.standard_normal(samples)).astype(np.float32)
    frames = np.repeat(rng.integers(0, 255, (int(np.ceil(samples / 640)), 1, 1, 3), dtype=np.uint8), 32, axis=1)
    frames = np.repeat(frames, 48, axis=2)
    results = {}
    for writer in builds:
        _use(monkeypatch, writer)
        path = str(tmp_path / f"{writer}{extension}")
        write_video(path, frames, 25.0, audio=audio, sample_rate=16000)
        for reader in builds:
            _use(monkeypatch, reader)
            decoded = load_audio(path)
            video, fps = read_video(path)
            results[writer, reader] = decoded.size
            assert fps == 25.0 and video.shape[0] == frames.shape[0], (writer, reader)
            assert _lag(decoded, audio) == 0, (writer, reader)
            if extension == ".mp4":  # the edit list declares the exact length
                assert decoded.size == samples, (writer, reader)
                np.testing.assert_allclose(decoded[2000:-2000], audio[2000:-2000], atol=0.25)
            else:  # MP2 codes whole 1152-sample frames (its delay eats the end of the last); any build alike
                assert abs(decoded.size - samples) < 1152, (writer, reader)
    assert len(set(results.values())) == 1, results


def test_mp4_edit_list_is_read_from_the_boxes(builds, monkeypatch, tmp_path):
    """ffmpeg 5.1 writes the edit list in 1/1000 s; the sample table still gives the exact count."""
    audio = np.zeros(16013, np.float32)
    frames = np.zeros((26, 32, 32, 3), np.uint8)
    for writer in builds:
        _use(monkeypatch, writer)
        write_video(tmp_path / f"{writer}.mp4", frames, 25.0, audio=audio, sample_rate=16000)
        assert audio_sample_count(str(tmp_path / f"{writer}.mp4")) == (16013, 16000)
    write_video(tmp_path / "silent.mp4", frames, 25.0)
    assert audio_sample_count(str(tmp_path / "silent.mp4")) is None  # no audio track
    (tmp_path / "junk.mp4").write_bytes(os.urandom(3000))
    assert audio_sample_count(str(tmp_path / "junk.mp4")) is None


def test_one_setting_chooses_the_binary(builds, monkeypatch, tmp_path):
    _use(monkeypatch, "bundled")
    assert ffmpeg_executable() == builds["bundled"]
    _use(monkeypatch, "system")
    assert ffmpeg_executable() == builds["system"]
    monkeypatch.delenv("AVSE_FFMPEG")
    assert ffmpeg_executable() == builds["system"]  # the default: PATH first
    _use(monkeypatch, builds["bundled"])
    assert ffmpeg_executable() == builds["bundled"]
    _use(monkeypatch, str(tmp_path / "nothing"))
    with pytest.raises(FFmpegError, match="AVSE_FFMPEG=.*nothing is not an executable"):
        ffmpeg_executable()
    monkeypatch.setenv("PATH", str(tmp_path))
    _use(monkeypatch, "system")
    with pytest.raises(FFmpegError, match="no ffmpeg on PATH"):
        ffmpeg_executable()
    monkeypatch.delenv("AVSE_FFMPEG")
    assert ffmpeg_executable() == builds["bundled"]  # nothing on PATH: the bundled build


def test_a_bad_setting_is_one_line_in_the_cli(monkeypatch, tmp_path, capsys):
    from avse_tf.cli.main import main

    _use(monkeypatch, str(tmp_path / "no-ffmpeg"))
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 100)
    assert main(["landmarks", "--video", str(tmp_path / "clip.mp4"), "--output", str(tmp_path / "l.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "AVSE_FFMPEG" in err[0] and "no-ffmpeg" in err[0]
