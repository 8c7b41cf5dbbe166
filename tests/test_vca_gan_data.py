"""VCA-GAN lip-to-speech data (issue 17): features against librosa, the reader, and `avse lip2speech`
on a folder of awkward clips made from the synthetic corpus (30 fps, 7.5 s, two faces, no face)."""

import json
import math
import os

import numpy as np
import pytest

from avse_tf.cli.main import main
from avse_tf.systems.vca_gan import features as vca_features
from avse_tf.systems.vca_gan.pipeline import VIDEO_MEAN, VIDEO_STD, make_lip2speech_dataset, vca_gan_schema

SEGMENT_SAMPLES, SEGMENT_FRAMES = 48000, 75


def _tone_speech(seconds=3.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
            + 0.2 * np.sin(2 * np.pi * 20 * t)).astype(np.float32)  # 20 Hz rumble: the high-pass removes it


def test_features_match_librosa_with_the_fact_sheet_settings():
    import librosa
    from scipy import signal

    waveform = _tone_speech()
    from avse_tf.audio.filters import highpass

    high = highpass(waveform, 55.0)
    b, a = signal.butter(7, 55.0 / 8000, "high")
    np.testing.assert_allclose(high, signal.filtfilt(b, a, waveform.astype(np.float64)), atol=1e-6)
    got = vca_features.clip_features(high, SEGMENT_FRAMES)
    assert got["mel"].shape == (300, 80) and got["linear"].shape == (300, 321)

    # The original's chain, written out with librosa / scipy.
    audio = high / np.abs(high).max() * 0.9
    audio = np.clip(signal.lfilter([1, -0.97], [1], audio), -1, 1)
    magnitude = np.abs(librosa.stft(audio, n_fft=640, hop_length=160, win_length=640, window="hann", center=True,
                                    pad_mode="reflect")).T  # [301, 321]
    mel_basis = librosa.filters.mel(sr=16000, n_fft=640, n_mels=80, fmin=55.0, fmax=7500.0)
    log_mel = np.log(np.maximum(magnitude @ mel_basis.T, 1e-5))
    expected = (log_mel - math.log(1e-5)) / (-math.log(1e-5) / 2) - 1
    assert magnitude.shape[0] == 301  # 1 + 48000 // 160; the records keep the first 4 x 75
    # Measured: 2.2e-6 (linear, peak 11.7) and 2.9e-6 (mel) max abs difference, float32 vs float64.
    np.testing.assert_allclose(got["linear"], magnitude[:300], atol=1e-4)
    np.testing.assert_allclose(got["mel"], expected[:300], atol=2e-5)
    assert got["mel"].min() >= -1.0


def test_stft_kim2021_frames_and_inverse():
    import tensorflow as tf

    from avse_tf.audio.stft import KIM2021, istft, stft

    waveform = _tone_speech(1.0)
    spectrum = stft(waveform, "kim2021")
    assert spectrum.shape == (KIM2021.num_frames(16000), 321) == (101, 321)
    np.testing.assert_allclose(istft(spectrum, "kim2021", 16000).numpy(), waveform, atol=1e-4)
    assert tf.is_tensor(spectrum)


def _write_records(folder, clips, segment_frames=75):
    from avse_tf.records import write_records

    examples = []
    for index, (frames, valid) in enumerate(clips):
        rng = np.random.default_rng(index)
        mouths = rng.integers(0, 256, (frames, 112, 112), dtype=np.uint8)
        mel = np.repeat(np.arange(frames, dtype=np.float32), 4)[:, None] * np.ones(80, np.float32)
        examples.append({"clip": f"c{index}", "source": "x.mp4", "start_frame": 0, "video_frames": frames,
                         "valid_frames": valid, "crop_size": 112, "mouths": mouths.tobytes(), "mel": mel,
                         "linear": np.repeat(mel[:, :1], 321, axis=1), "sequence_length": 4 * frames,
                         "num_samples": 0})
    schema = vca_gan_schema(segment_frames)
    return write_records(str(folder), "records", schema, examples), examples


def test_reader_windows_normalisation_and_augmentation(tmp_path):
    manifest, examples = _write_records(tmp_path / "fixed", [(75, 75), (75, 30)])
    plain = next(iter(make_lip2speech_dataset(manifest, batch_size=2, mode="fixed", training=False)))
    assert plain["video"].shape == (2, 40, 112, 112, 1) and plain["mel"].shape == (2, 160, 80)
    assert plain["linear"].shape == (2, 160, 321)
    assert list(plain["video_length"].numpy()) == [40, 30] and list(plain["mel_length"].numpy()) == [160, 120]
    raw = np.frombuffer(examples[0]["mouths"], np.uint8).reshape(75, 112, 112)
    np.testing.assert_allclose(plain["video"][0, :, :, :, 0], (raw[:40] / 255.0 - VIDEO_MEAN) / VIDEO_STD, atol=1e-5)
    assert np.all(plain["video"][1, 30:] == 0) and np.all(plain["mel"][1, 120:] == 0)  # padded past 30 valid frames

    flips = 0
    batches = make_lip2speech_dataset(manifest, batch_size=2, mode="fixed", training=True, seed=3, repeat=True)
    for batch in batches.take(12):
        item = list(batch["clip"].numpy()).index(b"c0")
        video, mel = batch["video"].numpy()[item, :, :, :, 0], batch["mel"].numpy()[item]
        start = int(mel[0, 0])  # mel rows hold their video frame's index: window and mel stay aligned
        assert np.all(mel[::4, 0] == np.arange(start, start + 40)) and 0 <= start <= 35
        expected = (raw[start:start + 40] / 255.0 - VIDEO_MEAN) / VIDEO_STD
        kept = video != 0
        flipped = np.allclose(video[kept], expected[..., ::-1][kept], atol=1e-5)
        assert flipped or np.allclose(video[kept], expected[kept], atol=1e-5)
        flips += flipped
        zeroed = ~kept
        assert zeroed.any() and np.all(zeroed == zeroed[0])  # one patch, the same in every frame
        rows, columns = np.nonzero(zeroed[0])
        assert rows.max() - rows.min() < 56 and columns.max() - columns.min() < 56
    assert 2 <= flips <= 10


def test_reader_variable_mode(tmp_path):
    manifest, _ = _write_records(tmp_path / "var", [(75, 75), (50, 20)], segment_frames=None)
    batch = next(iter(make_lip2speech_dataset(manifest, batch_size=2, mode="variable")))
    assert batch["video"].shape[1:] == (75, 112, 112, 1) and batch["mel"].shape[1:] == (300, 80)
    assert list(batch["video_length"].numpy()) == [75, 20] and list(batch["mel_length"].numpy()) == [300, 80]
    assert np.all(batch["video"][1, 20:] == 0) and np.all(batch["mel"][1, 80:] == 0)
    training = next(iter(make_lip2speech_dataset(manifest, batch_size=2, mode="variable", training=True, seed=1)))
    assert training["video"].shape[1] == 75 and (training["video"][0].numpy() == 0).any()


# ------------------------------------------------------------------------------------------------
# The acceptance folder

@pytest.fixture(scope="module")
def awkward_folder(small_corpus, tmp_path_factory):
    """30 fps, 7.5 s, two-face and faceless clips (mp4 with sound) from the synthetic corpus."""
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import read_video, write_video

    root, _ = small_corpus
    speaker = os.path.join(root, "s1")
    clips = sorted(name[:-4] for name in os.listdir(os.path.join(speaker, "video")))[:3]
    frames = [read_video(os.path.join(speaker, "video", clip + ".mpg"))[0] for clip in clips]
    audio = [load_audio(os.path.join(speaker, "audio", clip + ".wav")) for clip in clips]
    out = tmp_path_factory.mktemp("awkward")
    at_30 = np.floor(np.arange(90) * 25 / 30).astype(int)
    write_video(out / "thirty_fps.mp4", frames[0][at_30], 30, audio[0])
    long_frames = np.concatenate([frames[1], frames[2], frames[0][:37]])[:187]
    write_video(out / "long.mp4", np.concatenate([long_frames, long_frames[-1:]]), 25,
                np.concatenate([audio[1], audio[2], audio[0][:24000]]))
    write_video(out / "two_faces.mp4", np.concatenate([frames[1], frames[1]], axis=2), 25, audio[1])
    noise = np.random.default_rng(0).integers(0, 255, frames[2].shape, dtype=np.uint8)
    write_video(out / "faceless.mp4", noise, 25, audio[2])
    return out


@pytest.mark.media
@pytest.mark.slow
def test_preprocess_cuts_converts_and_reports(awkward_folder, tmp_path, capsys):
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import read_video

    out = tmp_path / "prepared"
    argv = ["lip2speech", "preprocess", "--input_dir", str(awkward_folder), "--output_dir", str(out),
            "--val_fraction", "0", "--test_fraction", "0"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if line.startswith("avse: skipped")]
    assert len(skipped) == 2 and any("two_faces" in line and "2 faces" in line for line in skipped)
    assert any("faceless" in line and "no face" in line for line in skipped)
    report = (out / "bad_clips.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in report) == ["faceless", "two_faces"]
    segments = sorted((out / "data" / "training.txt").read_text().split())
    assert segments == ["long_000", "long_001", "long_002", "thirty_fps_000"]
    for name in segments:
        frames, fps = read_video(out / name / "video" / f"{name}.mp4", grayscale=True)
        assert frames.shape == (SEGMENT_FRAMES, 112, 112) and fps == 25
        assert load_audio(out / name / "audio" / f"{name}.flac", None).size == SEGMENT_SAMPLES
    valid = {name: int(np.load(out / name / "features" / f"{name}.npz")["valid_frames"]) for name in segments}
    assert valid == {"long_000": 75, "long_001": 75, "long_002": 38,  # 188 frames = 2 x 75 + 38, padded to 75
                     "thirty_fps_000": 75}
    manifest = json.loads((out / "tfrecords" / "training" / "records.json").read_text())
    assert manifest["num_examples"] == 4 and manifest["schema"]["num_frames"] == 300
    batch = next(iter(make_lip2speech_dataset(str(out / "tfrecords" / "training"), batch_size=4, mode="variable")))
    assert batch["video"].shape == (4, 75, 112, 112, 1) and batch["mel"].shape == (4, 300, 80)

    # Rerun: everything is kept, the bad clips are reported again, nothing is deleted.
    mtime = os.path.getmtime(out / "long_000" / "features" / "long_000.npz")
    assert main(argv) == 0
    assert os.path.getmtime(out / "long_000" / "features" / "long_000.npz") == mtime
    assert (awkward_folder / "two_faces.mp4").exists() and (awkward_folder / "faceless.mp4").exists()
    assert main(argv + ["--tail", "drop"]) == 2  # other settings in the same folder: refused
    assert "was made with other settings (tail)" in capsys.readouterr().err


@pytest.mark.media
@pytest.mark.slow
def test_seed_commands(awkward_folder, small_corpus, tmp_path, capsys):
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import probe, read_video

    root, _ = small_corpus
    assert main(["lip2speech", "remove_not_25", "--input_dir", str(awkward_folder)]) == 0
    listed = (awkward_folder / "not_25.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in listed] == [str(awkward_folder / "thirty_fps.mp4")]
    converted = tmp_path / "converted"
    assert main(["lip2speech", "remove_not_25", "--input_dir", str(awkward_folder), "--convert",
                 "--output_dir", str(converted)]) == 0
    assert probe(converted / "thirty_fps.mp4")["fps"] == 25 and probe(awkward_folder / "thirty_fps.mp4")["fps"] == 30

    crops = tmp_path / "crops"
    assert main(["lip2speech", "crop_video_processing", "--input_dir", str(awkward_folder),
                 "--output_dir", str(crops)]) == 0
    assert len([line for line in capsys.readouterr().err.splitlines() if line.startswith("avse: skipped")]) == 2
    frames, fps = read_video(crops / "long.mp4", grayscale=True)
    assert frames.shape == (188, 112, 112) and fps == 25
    assert not (crops / "two_faces.mp4").exists() and (awkward_folder / "two_faces.mp4").exists()

    audio_out = tmp_path / "audio"
    assert main(["lip2speech", "preprocess_audio_only", "--Grid_dir", str(root), "--output_dir", str(audio_out)]) == 0
    flacs = sorted(p.relative_to(audio_out).as_posix() for p in audio_out.rglob("*.flac"))
    assert flacs and all(path.startswith("s") and "/audio/" in path and path.count("audio") == 1 for path in flacs)
    assert load_audio(audio_out / flacs[0], None).size == 48000


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["lip2speech", "preprocess", "--input_dir", str(tmp_path / "nope"), "--output_dir",
                 str(tmp_path / "o")]) == 2
    assert "input folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["lip2speech", "crop_video_processing", "--input_dir", str(tmp_path / "empty"), "--output_dir",
                 str(tmp_path / "o")]) == 2
    assert main(["lip2speech", "preprocess", "--input_dir", str(tmp_path / "empty"), "--output_dir",
                 str(tmp_path / "o"), "--segment_seconds", "0.01"]) == 2
    from avse_tf.errors import NonFiniteError

    with pytest.raises(NonFiniteError):
        vca_features.clip_features(np.full(48000, np.nan, np.float32), 75)


@pytest.mark.media
@pytest.mark.slow
def test_preprocess_killed_resumes_to_the_same_files(awkward_folder, tmp_path):
    """kill -9 after a seeded number of atomic writes (tests/fault_tools.py), then the same command
    again: the same files as an uninterrupted run, bytes included (records, crops, flac, mp4)."""
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fault_tools import assert_same_files, draw, kill_after_writes, rerun

    def command(out):
        return ["lip2speech", "preprocess", "--input_dir", str(awkward_folder), "--output_dir", str(out),
                "--val_fraction", "0", "--test_fraction", "0"]

    reference, faulted = tmp_path / "reference", tmp_path / "faulted"
    assert main(command(reference)) == 0
    # 4 segments x (mp4, flac, npz) + 2 done markers before the records: kill inside the segments.
    writes = draw("lip2speech-preprocess", 2, 10)
    kill_after_writes(command(faulted), str(tmp_path / "log"), writes, f"lip2speech preprocess after {writes} writes")
    assert not (faulted / "tfrecords").exists()
    rerun(command(faulted))
    assert_same_files(str(reference), str(faulted))
