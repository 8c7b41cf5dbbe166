"""The pseudo-visual audio-only student (issue 19): the paper-size network against the original's
layer list, distillation from the frozen teacher through `avse denoising train_student` (resume,
the fixed face, the noise bank, the PyTorch refusal), `lipsync` on inputs of any length, and
`evaluate_student`'s comparison with the teacher on noisy speech of the unseen speaker."""

import json
import os

import numpy as np
import pytest

from avse_tf.cli.main import main


def _conv(cin, cout, kernel=3, batch_norm=True):
    """Parameters of one of the original's Conv2d / ConvTranspose2d blocks, counted as Keras does
    (weights, bias, and BN's scale, offset, moving mean and variance)."""
    return kernel * kernel * cin * cout + cout + (4 * cout if batch_norm else 0)


def test_paper_student_has_the_original_layers_and_feature_maps():
    import avse_tf

    student = avse_tf.from_preset("lipsync_student_lrs3")
    assert student.input_shape == (None, 16, 80) and student.output_shape == (None, 48, 96, 3)
    sizes = [tuple(student.get_layer(f"decoder_s{index}_relu").output.shape[1:3]) for index in range(6)]
    assert sizes == [(3, 3), (6, 6), (12, 12), (24, 24), (48, 48), (48, 96)]
    # lipsync/models.py Lipsync_Student, written out block by block.
    encoder = ([_conv(1, 64)] + [_conv(64, 64)] * 2 + [_conv(64, 128)] + [_conv(128, 128)] * 2 + [_conv(128, 256)]
               + [_conv(256, 256)] * 2 + [_conv(256, 512), _conv(512, 512), _conv(512, 512), _conv(512, 512, 1)])
    decoder = ([_conv(512, 512, 1)] + [_conv(512, 512)] * 5 + [_conv(512, 256)] + [_conv(256, 256)] * 2
               + [_conv(256, 128)] + [_conv(128, 128)] * 2 + [_conv(128, 64)] + [_conv(64, 64)] * 2
               + [_conv(64, 32)] + [_conv(32, 32)] * 2 + [_conv(32, 16), _conv(16, 3, 1, batch_norm=False)])
    assert student.count_params() == sum(encoder) + sum(decoder) == 23_314_211
    assert avse_tf.from_preset("lipsync_student_cpu").count_params() < student.count_params() / 10


@pytest.fixture(scope="module")
def distilled(pseudo_visual_student):
    """The session's student run (conftest): ``(checkpoint_dir, argv)``."""
    return pseudo_visual_student


def test_train_student_writes_the_student_face_and_noise_and_resumes(distilled, capsys):
    import cv2

    from avse_tf.systems.pseudo_visual.train_student import load_student

    checkpoint_dir, argv = distilled
    for name in ("best.keras", "student.keras", "face.png", "history.csv", "done.json",
                 os.path.join("noise_bank", "noise_bank.json")):
        assert os.path.isfile(os.path.join(checkpoint_dir, name)), name
    assert cv2.imread(os.path.join(checkpoint_dir, "face.png")).shape == (96, 96, 3)
    with open(os.path.join(checkpoint_dir, "history.csv"), encoding="utf-8") as handle:
        rows = handle.read().strip().splitlines()
    assert len(rows) == 3 and "teacher_noisy_l1" in rows[0]
    student = load_student(checkpoint_dir)
    assert student.output_shape == (None, 48, 96, 3)
    stamp = os.stat(os.path.join(checkpoint_dir, "student.keras")).st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0  # done: the same command neither trains again nor rewrites the student
    assert os.stat(os.path.join(checkpoint_dir, "student.keras")).st_mtime_ns == stamp
    with open(os.path.join(checkpoint_dir, "done.json"), encoding="utf-8") as handle:
        assert len(json.load(handle)["history"]["loss"]) == 2


def test_pytorch_teacher_and_missing_records_are_one_line_errors(pseudo_visual_preprocessed, tmp_path, capsys):
    pth = tmp_path / "wav2lip.pth"
    pth.write_bytes(b"\x80\x02not loaded")
    base = ["denoising", "train_student", "--checkpoint_dir", str(tmp_path / "c"), "--epochs", "1", "--steps_per_epoch", "1"]
    assert main([*base, "--data_root_lrs3_pretrain", pseudo_visual_preprocessed, "--wav2lip_checkpoint_path",
                 str(pth)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "PyTorch" in error and "train_teacher" in error
    assert main([*base, "--data_root_lrs3_pretrain", str(tmp_path / "nothing"), "--wav2lip_checkpoint_path",
                 str(pth)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "denoising preprocess" in error


# Not marked `media`: its mp4 goes through `avse_tf.video.io.write_video`, which the media tests
# already run under both ffmpeg builds; the marker would retrain the teacher in the second pass.
@pytest.mark.parametrize("seconds", [0.5, 7.3])
def test_lipsync_covers_the_whole_input_with_its_audio(distilled, tmp_path, seconds, capsys):
    import soundfile

    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import read_video

    rng = np.random.default_rng(int(seconds * 10))
    waveform = (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)
    soundfile.write(str(tmp_path / "noisy.wav"), waveform, 16000)
    assert main(["denoising", "lipsync", "--checkpoint_path", distilled[0], "--audio", str(tmp_path / "noisy.wav"),
                 "--results_dir", str(tmp_path / "results")]) == 0
    output = tmp_path / "results" / "result_voice.mp4"
    assert f"-> {output}" in capsys.readouterr().out
    frames = read_video(str(output))[0]
    assert frames.shape[1:] == (48, 96, 3) and len(frames) == int(np.ceil(waveform.size / 640))
    audio = load_audio(str(output), 16000)
    assert abs(audio.size - waveform.size) <= 1024  # AAC's priming and last frame
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.full(800, np.nan, np.float32), 16000, subtype="FLOAT")
    assert main(["denoising", "lipsync", "--checkpoint_path", distilled[0], "--audio", str(silent),
                 "--results_dir", str(tmp_path / "r2")]) == 2
    assert "NaN" in capsys.readouterr().err


@pytest.fixture(scope="module")
def student_evaluation(distilled, pseudo_visual_preprocessed, tmp_path_factory):
    from avse_tf.systems.pseudo_visual.evaluate_student import evaluate_student

    output = str(tmp_path_factory.mktemp("student_eval"))
    return evaluate_student(distilled[0], pseudo_visual_preprocessed, output, split="unseen", snr_db=0.0), output


def test_evaluate_student_writes_table_scores_and_frame_grid(student_evaluation):
    import csv

    import cv2

    result, output = student_evaluation
    means = result["means"]
    assert result["clips"] == 4 and set(means) == {"student noisy", "teacher noisy", "teacher clean"}
    assert means["teacher clean"]["l1"] == 0.0 and means["teacher clean"]["opening_l1"] == 0.0
    with open(os.path.join(output, "metrics.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 4 and all(row["clip"].startswith("s4/") for row in rows)
    assert "held-out noise kinds at 0 dB" in open(os.path.join(output, "table.txt"), encoding="utf-8").read()
    grid = cv2.imread(os.path.join(output, "frames.png"))
    # 2 clips x 4 rows (real, teacher clean, student noisy, teacher noisy) of 14-pixel banners and 50-pixel strips
    assert grid.shape[0] == 2 * 4 * (14 + 50) and grid.shape[1] == 12 * 98


@pytest.mark.xfail(strict=True, reason="measured at CI scale (teacher 2 x 15 steps, student 2 x 4 steps of batch 4), "
                   "unseen speaker, 4 clips, 0 dB held-out noise: L1 to the teacher's clean-speech lips 0.050 for the "
                   "student vs 0.004 for the teacher on the noisy speech (the teacher copies the fixed face's appearance "
                   "from its reference input, the student has to draw it); mouth opening difference 0.004 vs 0.006 (the "
                   "student closer; figures of the CI-scale teacher of the 1/8-width expert); reached at 1 900 "
                   "steps on 76 clips: L1 0.0133 vs 0.0152 on 24 unseen clips (model card)")
def test_acceptance_student_is_closer_to_the_clean_teacher_than_the_teacher_on_noisy_speech(student_evaluation):
    means = student_evaluation[0]["means"]
    assert means["student noisy"]["l1"] < means["teacher noisy"]["l1"]
    assert means["student noisy"]["opening_l1"] <= means["teacher noisy"]["opening_l1"]
