"""Pseudo-visual denoising data (issue 19, data part): Wav2Lip's mels against librosa, the window
indexing at the ends, `avse denoising preprocess` on the synthetic corpus and on an LRS3 set with a
faceless clip, resume, and the teacher / expert / student readers."""

import json
import os
import shutil

import numpy as np
import pytest

from avse_tf.systems.pseudo_visual import features
from avse_tf.systems.pseudo_visual.pipeline import (
    make_expert_dataset,
    make_student_dataset,
    make_teacher_dataset,
)


def _speech_like(seconds=3.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    wave[:4000] = 0  # a silent lead-in: the -100 dB floor and the clip to -4
    return wave.astype(np.float32)


def test_mel_matches_librosa_with_the_fact_sheet_settings():
    import librosa
    from scipy import signal

    waveform = _speech_like()
    got = features.wav2lip_mel(waveform)
    # The original's audio.melspectrogram(wav).T, written out with librosa / scipy (librosa 0.7's
    # stft defaults: centred, reflected ends).
    emphasised = signal.lfilter([1, -0.97], [1], waveform.astype(np.float64))
    magnitude = np.abs(librosa.stft(emphasised, n_fft=800, hop_length=200, win_length=800, window="hann",
                                    center=True, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55.0, fmax=7600.0) @ magnitude
    decibels = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    expected = np.clip(8 * (decibels + 100) / 100 - 4, -4, 4).T
    assert got.shape == expected.shape == (1 + 48000 // 200, 80)  # 80 frames per second
    # Measured: 3.1e-5 max abs difference (float32 vs float64).
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert got.min() == -4.0 and got.max() <= 4.0


def test_window_indexing_at_the_ends():
    import tensorflow as tf

    starts = features.window_starts(75, 241)  # 3 s: 75 video frames, 241 mel frames
    assert starts[:6].tolist() == [0, 3, 6, 9, 12, 16]  # int(80 t / 25)
    assert starts[70] == int(80 * 70 / 25) == 224 and starts[71:].tolist() == [225] * 4  # 241 - 16: the tail clamped
    assert features.window_starts(3, 241, offset=-1).tolist() == [0, 0, 3]  # Wav2Lip's training offset, clamped
    mel = np.arange(241, dtype=np.float32)[:, None] * np.ones(80, np.float32)
    windows = features.mel_windows(mel, 75)
    assert windows.shape == (75, 16, 80)
    np.testing.assert_array_equal(windows[1, :, 0], np.arange(3, 19))
    np.testing.assert_array_equal(windows[-1], mel[-16:])  # Wav2Lip inference's tail: the last 16 frames
    short = features.mel_windows(mel[:10], 2)  # a clip under 0.2 s: padded with silence
    assert short.shape == (2, 16, 80) and (short[:, 10:] == -4).all()
    for frames, mel_frames in ((75, 241), (7, 23), (1, 16), (40, 129)):
        tf_starts = features.window_starts_tf(tf.range(frames), mel_frames).numpy()
        np.testing.assert_array_equal(tf_starts, features.window_starts(frames, mel_frames))


# ------------------------------------------------------------------------------------------------
# Preprocessing the synthetic corpus

@pytest.fixture(scope="module")
def preprocessed(small_corpus, tmp_path_factory):
    """s1's 3 clips split 1 / 1 / 1, s2's 3 clips the unseen split."""
    from avse_tf.systems.pseudo_visual.preprocess import preprocess

    root, _ = small_corpus
    output = str(tmp_path_factory.mktemp("pseudo_visual") / "preprocessed")
    result = preprocess(str(root), output, val_fraction=0.34, test_fraction=0.34, seed=0, unseen_speakers=["s2"])
    assert result["splits"] == {"training": 1, "validation": 1, "test": 1, "unseen": 3}, result
    assert result["bad"] == [] and result["clips"] == 6
    return output


def _clip_names(output, split):
    with open(os.path.join(output, "data", split + ".txt"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


@pytest.mark.media
def test_preprocess_writes_crops_per_frame_and_records_that_read_back_equal(preprocessed):
    import cv2
    import soundfile

    from avse_tf.records import read_examples

    assert all(name.startswith("s2/") for name in _clip_names(preprocessed, "unseen"))
    for split in ("training", "unseen"):
        examples = read_examples(os.path.join(preprocessed, "tfrecords", split))
        assert [example["clip"].decode() for example in examples] == _clip_names(preprocessed, split)
        for example in examples:
            folder = os.path.join(preprocessed, *example["clip"].decode().split("/"))
            frames = example["video_frames"]
            jpgs = sorted(name for name in os.listdir(folder) if name.endswith(".jpg"))
            assert jpgs == sorted(f"{index}.jpg" for index in range(frames)) and frames == 75
            crops = np.stack([cv2.cvtColor(cv2.imread(os.path.join(folder, f"{index}.jpg")), cv2.COLOR_BGR2RGB)
                              for index in range(frames)])
            assert crops.shape == (75, 96, 96, 3)
            np.testing.assert_array_equal(np.frombuffer(example["faces"], np.uint8).reshape(crops.shape), crops)
            pcm, rate = soundfile.read(os.path.join(folder, "audio.wav"), dtype="int16")
            assert rate == 16000 and pcm.size == example["num_samples"] == 640 * frames
            np.testing.assert_array_equal(np.frombuffer(example["waveform_pcm16"], "<i2"), pcm)
            np.testing.assert_allclose(example["mel"], features.wav2lip_mel(pcm / 32768.0), atol=1e-5)
            assert example["sequence_length"] == 1 + pcm.size // 200 and example["split"].decode() == split
            assert example["speaker"] == example["clip"].split(b"/")[0]


@pytest.mark.media
def test_resume_redoes_only_the_clip_whose_marker_was_deleted(small_corpus, preprocessed, tmp_path):
    from avse_tf.preprocessing.clips import marker_path as done_marker
    from avse_tf.systems.pseudo_visual.preprocess import preprocess

    copy = str(tmp_path / "copy")
    shutil.copytree(preprocessed, copy)
    redone, kept = _clip_names(copy, "unseen")[:2]
    os.remove(done_marker(copy, redone))
    before = {name: open(os.path.join(copy, name, "30.jpg"), "rb").read() for name in (redone, kept)}
    stamp = os.stat(os.path.join(copy, kept, "30.jpg")).st_mtime_ns
    shutil.rmtree(os.path.join(copy, redone))  # what a run killed before the folder's rename leaves
    result = preprocess(str(small_corpus[0]), copy, val_fraction=0.34, test_fraction=0.34, seed=0,
                        unseen_speakers=["s2"])
    assert result["clips"] == 6 and result["bad"] == []
    assert os.path.isfile(done_marker(copy, redone))
    assert os.stat(os.path.join(copy, kept, "30.jpg")).st_mtime_ns == stamp  # skipped: untouched
    for name in (redone, kept):  # the redone clip's crops are the same (deterministic)
        assert open(os.path.join(copy, name, "30.jpg"), "rb").read() == before[name]
    assert not [entry for entry in os.listdir(os.path.join(copy, "s2")) if entry.startswith(".tmp")]
    from avse_tf.errors import UserInputError

    with pytest.raises(UserInputError, match="other settings"):
        preprocess(str(small_corpus[0]), copy, seed=1)


@pytest.mark.media
def test_av_offsets_delay_each_clips_audio_by_its_own_offset(small_corpus, preprocessed, tmp_path, capsys):
    """`--av_offsets` (sync correction): a clip's audio.wav is the uncorrected one delayed by its
    offset (positive: the video lags), same length, same crops; the corpus's synth_grid.json gives
    every clip's recorded offset; other offsets on the same folder, a file of other clip names and
    a broken file are refused in one line (exit 2)."""
    import soundfile

    from avse_tf.cli.main import main
    from avse_tf.data.av_offsets import load_av_offsets
    from avse_tf.systems.pseudo_visual.preprocess import DenoisingPreparation, process_clip
    from avse_tf.systems.pseudo_visual.sources import list_clips

    root, description = small_corpus
    recorded = {f"{speaker['name']}/{clip}": ms / 1000 for speaker in description["speakers"]
                for clip, ms in speaker["av_offset_ms"].items()}
    assert load_av_offsets(root / "synth_grid.json") == pytest.approx(recorded) and len(recorded) == 6
    clips = {clip.name: clip for clip in list_clips(str(root))}
    for name, offset in ((_clip_names(preprocessed, "unseen")[0], 0.0523), (_clip_names(preprocessed, "unseen")[1], -0.0317)):
        assert process_clip(clips[name], str(tmp_path / "synced"), av_offset_s=offset) == 75
        plain, _ = soundfile.read(os.path.join(preprocessed, name, "audio.wav"), dtype="int16")
        corrected, _ = soundfile.read(str(tmp_path / "synced" / name / "audio.wav"), dtype="int16")
        shift = round(offset * 16000)
        expected = np.concatenate([np.zeros(shift, np.int16), plain[:-shift]]) if shift > 0 \
            else np.concatenate([plain[-shift:], np.zeros(-shift, np.int16)])
        np.testing.assert_array_equal(corrected, expected)
        assert open(str(tmp_path / "synced" / name / "40.jpg"), "rb").read() \
            == open(os.path.join(preprocessed, name, "40.jpg"), "rb").read()
    folder = str(tmp_path / "folder")
    DenoisingPreparation(str(root), folder, av_offsets=str(root / "synth_grid.json")).check()  # settings saved
    other = tmp_path / "other.json"
    other.write_text(json.dumps({name: 1000 * value + 40 for name, value in recorded.items()}))
    argv = ["denoising", "preprocess", "--data_root", str(root), "--preprocessed_root", folder]
    assert main([*argv, "--av_offsets", str(other)]) == 2
    assert "other settings" in capsys.readouterr().err
    for content, message in (({"nobody/clip": 20}, "no clip of"), ({"s1/x": "late"}, "not a number of ms"),
                             ([1, 2], "expected a JSON object")):
        other.write_text(json.dumps(content))
        assert main([*argv[:-1], str(tmp_path / "x"), "--av_offsets", str(other)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.media
def test_lrs3_set_with_a_faceless_clip_is_reported_in_one_line(small_corpus, tmp_path, capsys):
    """The seed's data_root (<root>/<folder>/<id>.mp4, sound in the mp4), through the seed's command."""
    from avse_tf.audio.io import load_audio
    from avse_tf.cli.main import main
    from avse_tf.video.io import read_video, write_video

    root, _ = small_corpus
    clip = sorted(os.listdir(os.path.join(root, "s1", "video")))[0][:-4]
    frames = read_video(os.path.join(root, "s1", "video", clip + ".mpg"))[0][:50]
    audio = load_audio(os.path.join(root, "s1", "audio", clip + ".wav"))[:32000]
    data_root = tmp_path / "lrs3_pretrain"
    write_video(data_root / "vidA" / "00001.mp4", frames, 25, audio)
    faceless = np.random.default_rng(0).integers(0, 255, frames.shape, dtype=np.uint8)
    write_video(data_root / "vidB" / "00002.mp4", faceless, 25, audio)
    output = tmp_path / "preprocessed"
    capsys.readouterr()
    assert main(["denoising", "preprocess", "--data_root", str(data_root), "--preprocessed_root", str(output),
                 "--val_fraction", "0", "--test_fraction", "0"]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if line.startswith("avse: skipped")]
    assert len(skipped) == 1 and "00002.mp4" in skipped[0] and "no face" in skipped[0]
    report = (output / "bad_clips.txt").read_text().splitlines()
    assert len(report) == 1 and report[0].startswith("vidB/00002\t")
    assert sorted(os.listdir(output / "vidA" / "00001")) == sorted([f"{i}.jpg" for i in range(50)] + ["audio.wav"])
    assert not (output / "vidB").exists() and "1 clips skipped" in captured.out
    assert _clip_names(str(output), "training") == ["vidA/00001"]


# ------------------------------------------------------------------------------------------------
# Readers

def _clip_arrays(preprocessed, split):
    from avse_tf.records import read_examples

    arrays = {}
    for example in read_examples(os.path.join(preprocessed, "tfrecords", split)):
        faces = np.frombuffer(example["faces"], np.uint8).reshape(-1, 96, 96, 3).astype(np.float32) / 255
        arrays[example["clip"]] = (faces, example["mel"])
    return arrays


def test_teacher_reader_shapes_mask_reference_and_mels(preprocessed):
    records = os.path.join(preprocessed, "tfrecords", "unseen")
    clips = _clip_arrays(preprocessed, "unseen")
    batches = list(make_teacher_dataset(records, batch_size=3, seed=3).take(1))
    batch = {key: value.numpy() for key, value in batches[0].items()}
    for key in ("faces", "masked", "reference"):
        assert batch[key].shape == (3, 5, 96, 96, 3)
    assert batch["mels"].shape == (3, 5, 16, 80) and batch["sync_mel"].shape == (3, 16, 80)
    for index in range(3):
        faces, mel = clips[batch["clip"][index]]
        start = batch["start"][index]
        np.testing.assert_array_equal(batch["faces"][index], faces[start:start + 5])
        assert (batch["masked"][index, :, 48:] == 0).all()
        np.testing.assert_array_equal(batch["masked"][index, :, :48], faces[start:start + 5, :48])
        assert not np.array_equal(batch["reference"][index], batch["faces"][index])
        expected = features.mel_windows(mel, start + 5)[start:]
        np.testing.assert_array_equal(batch["mels"][index], expected)
        np.testing.assert_array_equal(batch["sync_mel"][index], expected[0])


def test_expert_pairs_are_balanced_and_in_sync_pairs_match(preprocessed):
    records = os.path.join(preprocessed, "tfrecords", "unseen")
    clips = _clip_arrays(preprocessed, "unseen")
    labels, shifts = [], []
    for batch in make_expert_dataset(records, batch_size=4, seed=5, repeat=True).take(3):
        batch = {key: value.numpy() for key, value in batch.items()}
        assert batch["faces"].shape == (4, 5, 96, 96, 3) and batch["mel"].shape == (4, 16, 80)
        for index in range(4):
            faces, mel = clips[batch["clip"][index]]
            start, shift = batch["start"][index], batch["shift"][index]
            # The mel is always the window at `start`; in sync, the faces are the same frames.
            np.testing.assert_array_equal(batch["mel"][index], features.mel_windows(mel, start + 1)[start])
            np.testing.assert_array_equal(batch["faces"][index], faces[start + shift:start + shift + 5])
            assert (shift == 0) == (batch["label"][index] == 1.0)
            labels.append(batch["label"][index])
            shifts.append(shift)
    assert sum(labels) == len(labels) / 2 == 6  # exactly balanced
    assert all(abs(shift) >= 1 for shift, label in zip(shifts, labels) if label == 0)


def test_student_reader_mixes_training_noise_on_the_fly(preprocessed, tmp_path):
    from avse_tf.data.noise import write_noise_bank
    from avse_tf.systems.pseudo_visual.noisy import load_noise

    bank = str(tmp_path / "bank")
    write_noise_bank(bank, seconds_per_kind=1.0, clip_seconds=1.0, kinds=["pink_noise", "music"])
    assert len(load_noise(bank)) == 1  # music is a test kind: never mixed into training data
    records = os.path.join(preprocessed, "tfrecords", "unseen")
    batch = next(iter(make_student_dataset(records, bank, batch_size=3, seed=2)))
    assert batch["noisy_mels"].shape == batch["mels"].shape == (3, 5, 16, 80)
    assert set(batch["snr_db"].numpy().tolist()) <= {0.0, 5.0, 10.0}
    assert np.abs(batch["noisy_mels"].numpy() - batch["mels"].numpy()).mean() > 0.1
    # Noise at -inf dB: the noisy windows are the record's clean ones (the crop's mel frames are the clip's).
    silent = next(iter(make_student_dataset(records, [np.full(16000, 1e-9, np.float32)], batch_size=3, seed=2,
                                            snrs_db=(200.0,))))
    np.testing.assert_allclose(silent["noisy_mels"].numpy(), silent["mels"].numpy(), atol=1e-3)


def test_audio_is_fitted_to_the_video_or_the_clip_is_refused_in_one_line():
    from avse_tf.errors import DurationMismatchError
    from avse_tf.systems.pseudo_visual.preprocess import fit_audio

    assert fit_audio(np.ones(640 * 75 + 900, np.float32), 75, "a.wav").size == 48000  # 1.4 frames long: cut
    padded = fit_audio(np.ones(640 * 74, np.float32), 75, "a.wav")
    assert padded.size == 48000 and (padded[-640:] == 0).all()  # one frame short: zero-padded
    with pytest.raises(DurationMismatchError) as error:
        fit_audio(np.ones(640 * 70, np.float32), 75, "clip.mp4")
    assert "clip.mp4" in str(error.value) and "\n" not in str(error.value)
