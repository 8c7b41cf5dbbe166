"""Inputs checked at the door (issue 14): NaN / Inf, audio vs video durations, truncated videos,
several faces, in the shared checks, the Python API and the command line."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from avse_tf import errors
from avse_tf.validation import frame_ranges, match_durations, require_finite


def test_require_finite_names_the_first_bad_value_and_passes_clean_arrays():
    clean = np.ones((3, 4), np.float32)
    assert require_finite(clean, "x") is not None
    bad = clean.copy()
    bad[1, 2], bad[2, 0] = np.nan, np.inf
    with pytest.raises(errors.NonFiniteError, match=r"landmarks of a\.txt has 2 non-finite values \(first: NaN at "
                                                    r"frame 1, column 2\); re-extract"):
        require_finite(bad, "landmarks of a.txt", "re-extract")
    with pytest.raises(errors.NonFiniteError, match="-Inf at sample 1"):
        require_finite(np.array([0.0, -np.inf]), "audio", axes=("sample",))
    assert issubclass(errors.NonFiniteError, errors.UserInputError)
    assert require_finite(np.array([1, 2]), "integers").dtype.kind == "i"  # nothing to check


def test_match_durations_within_two_frames_passes_beyond_is_an_error_or_the_stated_policy():
    rate, fps = 16000, 25
    landmarks = np.arange(75 * 136, dtype=np.float32).reshape(75, 136)
    near, _ = match_durations(np.zeros(48000 + 1200), landmarks, rate, fps)  # +1.8 frames: unchanged
    assert near.size == 49200
    nine_seconds = np.zeros(9 * rate, np.float32)
    with pytest.raises(errors.DurationMismatchError, match=r"lasts 9\.00 s but video has 75 video frames \(3\.00 s"):
        match_durations(nine_seconds, landmarks, rate, fps)
    with pytest.warns(errors.InputWarning, match="trimmed the audio to 3.00 s"):
        audio, video = match_durations(nine_seconds, landmarks, rate, fps, "trim")
    assert audio.size == 48000 and video.shape == (75, 136)
    with pytest.warns(errors.InputWarning, match="padded the video to 225 frames by repeating its last frame"):
        audio, video = match_durations(nine_seconds, landmarks, rate, fps, "pad")
    assert audio.size == 9 * rate and video.shape == (225, 136)
    np.testing.assert_array_equal(video[75:], np.repeat(landmarks[-1:], 150, axis=0))
    one_second = np.ones(rate, np.float32)
    with pytest.warns(errors.InputWarning, match="padded the audio with 2.00 s of silence"):
        audio, video = match_durations(one_second, landmarks, rate, fps, "pad")
    assert audio.size == 48000 and not audio[rate:].any() and len(video) == 75
    with pytest.warns(errors.InputWarning, match="trimmed the video to 25 frames"):
        _, video = match_durations(one_second, landmarks, rate, fps, "trim")
    assert len(video) == 25
    with pytest.raises(errors.UserInputError, match="unknown length policy"):
        match_durations(one_second, landmarks, rate, fps, "stretch")


def test_frame_ranges_are_compact():
    assert frame_ranges([16, 0, 1, 2, 8, 17]) == "0-2, 8, 16-17"
    assert frame_ranges([5]) == "5"


def test_float_wav_with_nan_is_an_error(tmp_path):
    import soundfile

    from avse_tf.audio.io import load_audio

    samples = np.zeros(16000, np.float32)
    samples[100] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(errors.NonFiniteError, match=rf"audio file {path} has 1 non-finite value \(first: NaN at sample 100\)"):
        load_audio(path)


def test_records_refuse_non_finite_features(tmp_path):
    from avse_tf.records import RecordWriter
    from avse_tf.records.schema import Feature, RecordSchema

    schema = RecordSchema("test", "var", {}, {"spectrogram": Feature("float32", 4)})
    spectrogram = np.zeros((5, 4), np.float32)
    spectrogram[3, 1] = np.inf
    with RecordWriter(str(tmp_path), "set", schema) as writer:
        with pytest.raises(errors.NonFiniteError, match=r"feature spectrogram has 1 non-finite value \(first: \+Inf "
                                                        r"at frame 3, dimension 1\)"):
            writer.write({"spectrogram": spectrogram}, name="clip7")
        writer.write({"spectrogram": np.zeros((5, 4), np.float32)}, name="clip8")
    assert writer.num_examples == 1


# ------------------------------------------------------------------------------------------------
# Videos: truncated, two faces (API warnings and the CLI's one warning line, exit 0)

@pytest.fixture(scope="module")
def bad_videos(small_corpus, tmp_path_factory):
    """A clip re-encoded as MP4 with its index first and then cut in half (the container still
    announces 3 s), and the clip side by side with itself (two faces in every frame)."""
    from avse_tf.media.ffmpeg import run_ffmpeg

    root, description = small_corpus
    speaker = description["speakers"][0]
    utterance = speaker["utterances"][0]
    video = os.path.join(root, speaker["name"], "video", utterance + ".mpg")
    folder = tmp_path_factory.mktemp("bad_videos")
    whole = str(folder / "whole.mp4")
    assert run_ffmpeg(["-v", "error", "-y", "-i", video, "-c:v", "libx264", "-an", "-movflags", "+faststart",
                       whole]).returncode == 0
    truncated = str(folder / "truncated.mp4")
    data = open(whole, "rb").read()
    open(truncated, "wb").write(data[: len(data) // 2])
    two_faces = str(folder / "two_faces.mp4")
    assert run_ffmpeg(["-v", "error", "-y", "-i", video, "-i", video, "-filter_complex", "[0:v][1:v]hstack",
                       "-an", "-c:v", "libx264", two_faces]).returncode == 0
    return {"original": video, "truncated": truncated, "two_faces": two_faces, "folder": folder}


@pytest.mark.media
def test_truncated_video_warns_with_found_and_announced_frames(bad_videos):
    from avse_tf.video.io import read_video

    with pytest.warns(errors.InputWarning, match=r"truncated\.mp4: decoded (\d+) frames .* but its container "
                                                 r"announces 7[5-6] \(3\.0\d s at 25 fps\): the file is probably truncated"):
        frames, _ = read_video(bad_videos["truncated"], grayscale=True)
    assert 5 < len(frames) < 40
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.InputWarning)  # a whole clip: no warning
        frames, _ = read_video(bad_videos["original"], grayscale=True)
    assert len(frames) == 75


@pytest.mark.media
def test_two_faces_follow_the_first_detection_and_name_the_frames(bad_videos):
    from avse_tf.video.landmarks import LandmarkExtractor

    extractor = LandmarkExtractor()
    with pytest.warns(errors.InputWarning, match=r"two_faces\.mp4: 2 faces seen in frames 0, 8, 16, .*; followed the "
                                                 "largest face of the first detection"):
        track = extractor.extract_file(bad_videos["two_faces"])
    assert track.face_counts[0] == 2 and set(np.unique(track.face_counts)) <= {0, 2}
    # One person all along: every frame's face stays in the half where the track started.
    centres = track.points.mean(axis=1)[:, 0]
    assert (centres < 360).all() or (centres >= 360).all()
    single = extractor.extract_file(bad_videos["original"])
    assert set(np.unique(single.face_counts)) <= {0, 1}


def _avse(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "avse_tf", *args], capture_output=True, text=True, env=env, cwd=cwd)


@pytest.mark.media
def test_cli_landmarks_warns_on_truncated_and_two_face_videos(bad_videos):
    folder = bad_videos["folder"]
    for name, expected in (("truncated", "the file is probably truncated"), ("two_faces", "2 faces seen in frames")):
        result = _avse("landmarks", "--video", bad_videos[name], "--output", str(folder / f"{name}.txt"))
        assert result.returncode == 0, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("avse: warning: ") and expected in lines[0], result.stderr
        assert os.path.isfile(folder / f"{name}.txt")


# ------------------------------------------------------------------------------------------------
# The Python API and `avse enhancement enhance`: NaN landmark, a 9 s wav with a 3 s video

@pytest.fixture(scope="module")
def enhancer(small_corpus, tmp_path_factory):
    """An (untrained) AV concat model with normalisation statistics as an experiment folder, and a
    clip's wav + landmark TXT. Validation runs before the model, so training would add nothing."""
    from avse_tf.data.normalization import save_stats
    from avse_tf.systems.presets import build_model
    from avse_tf.video.landmarks import LandmarkExtractor, save_landmarks_txt

    root, description = small_corpus
    speaker = description["speakers"][0]
    utterance = speaker["utterances"][1]
    folder = tmp_path_factory.mktemp("enhancer")
    experiment = folder / "exp"
    experiment.mkdir()
    model = build_model("av_concat_mask", hidden_units=8, num_layers=1)
    model.save(experiment / "best.keras")
    save_stats(str(experiment / "normalization.npz"), spectrogram=(np.zeros(257), np.ones(257)),
               video=(np.zeros(136), np.ones(136)))
    landmarks = LandmarkExtractor().extract_file(os.path.join(root, speaker["name"], "video", utterance + ".mpg"))
    txt = str(folder / "face.txt")
    save_landmarks_txt(txt, landmarks.points)
    wav = os.path.join(root, speaker["name"], "audio", utterance + ".wav")
    return {"experiment": str(experiment), "wav": wav, "landmarks": txt, "folder": folder}


def test_api_refuses_nan_landmarks_and_mismatched_durations(enhancer):
    import avse_tf
    from avse_tf.audio.io import load_audio, write_audio

    model = avse_tf.load(enhancer["experiment"])
    clean, _ = model.enhance_file(enhancer["wav"], enhancer["landmarks"])
    assert clean.shape == (48000,) and np.isfinite(clean).all()
    values = np.loadtxt(enhancer["landmarks"])
    values[40, 97] = np.nan
    nan_txt = str(enhancer["folder"] / "nan.txt")
    np.savetxt(nan_txt, values, fmt="%.2f")
    with pytest.raises(errors.NonFiniteError, match=r"nan\.txt has 1 non-finite value \(first: NaN at frame 40, column 97\)"):
        avse_tf.enhance_file(enhancer["wav"], nan_txt, model=model)
    with pytest.raises(errors.NonFiniteError, match="landmarks has 1 non-finite value"):
        avse_tf.enhance(load_audio(enhancer["wav"]), values, model)
    nine = str(enhancer["folder"] / "nine.wav")
    write_audio(nine, np.tile(load_audio(enhancer["wav"]), 3))
    with pytest.raises(errors.DurationMismatchError, match=r"nine\.wav lasts 9\.00 s but .*face\.txt has 75 video frames"):
        avse_tf.enhance_file(nine, enhancer["landmarks"], model=model)
    with pytest.warns(errors.InputWarning, match="trimmed the audio"):
        trimmed, _ = avse_tf.enhance_file(nine, enhancer["landmarks"], model=model, length_policy="trim")
    # Trimmed to the video's 3 s, the first 3 s of the 9 s file are the clip itself.
    np.testing.assert_allclose(trimmed, clean, atol=1e-4)
    with pytest.warns(errors.InputWarning, match="padded the video to 225 frames"):
        padded, _ = avse_tf.enhance_file(nine, enhancer["landmarks"], model=model, length_policy="pad")
    assert padded.shape == (9 * 16000,) and np.isfinite(padded).all()


@pytest.mark.slow
def test_cli_enhance_one_line_errors_and_pad_trim(enhancer):
    folder = enhancer["folder"]
    values = np.loadtxt(enhancer["landmarks"])
    values[3, 0] = np.inf
    np.savetxt(folder / "inf.txt", values, fmt="%.2f")
    base = ["enhancement", "enhance", "--model", enhancer["experiment"]]
    result = _avse(*base, "--input", enhancer["wav"], "--video", str(folder / "inf.txt"), "--output", str(folder / "o.wav"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "inf.txt has 1 non-finite value (first: +Inf at frame 3, column 0)" in result.stderr
    assert not os.path.exists(folder / "o.wav")
    from avse_tf.audio.io import load_audio, write_audio

    write_audio(folder / "nine_cli.wav", np.tile(load_audio(enhancer["wav"]), 3))
    mismatch = [*base, "--input", str(folder / "nine_cli.wav"), "--video", enhancer["landmarks"], "--output",
                str(folder / "o.wav")]
    result = _avse(*mismatch)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "lasts 9.00 s" in result.stderr and "--pad" in result.stderr and not os.path.exists(folder / "o.wav")
    result = _avse(*mismatch, "--trim")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("avse: warning: ") and "trimmed the audio to 3.00 s (--trim)" in result.stderr
    assert load_audio(folder / "o.wav").shape == (48000,)


def test_inpainting_features_refuse_a_video_longer_than_its_audio():
    from avse_tf.systems.av_inpainting.pipeline import video_motion

    landmarks = np.zeros((90, 136), np.float32)
    with pytest.raises(errors.DurationMismatchError, match="90 video frames but the audio lasts only 75"):
        video_motion(landmarks, 302, 48000, "long.txt")
    assert video_motion(landmarks[:76], 302, 48000).shape == (302, 136)  # one extra frame is GRID's normal


def test_problems_of_reports_instead_of_raising():
    from avse_tf.validation import problems_of

    landmarks = np.zeros((75, 136), np.float32)
    result, problems = problems_of(match_durations, np.zeros(9 * 16000), landmarks, 16000, 25, "trim")
    assert result[0].size == 48000 and [kind for kind, _ in problems] == ["warning"]
    result, problems = problems_of(require_finite, np.array([np.nan]), "clip")
    assert result is None and problems == [("error", "clip has 1 non-finite value (first: NaN at index 0)")]
