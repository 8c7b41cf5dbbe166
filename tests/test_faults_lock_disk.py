"""Faults (issue 14), the fast half: the work-folder lock (one writer per folder, re-entrant,
released by kill -9) and full disks recognised in every form they take, as one CLI line.
The kill/resume chains and the tmpfs disk-full runs are in tests/test_faults.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fault_tools import (
    TIMEOUT,
    child_env,
)

import avse_tf
import avse_tf.errors
import avse_tf.utils
from avse_tf.cli.main import main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9, flock, /proc and tmpfs: Linux")

# ----------------------------------------------------------------------------------------------
# The lock and the disk-full message, in-process (fast)

def test_lock_is_reentrant_in_process_and_refuses_another_process(tmp_path):
    from avse_tf.errors import WorkFolderBusyError
    from avse_tf.workdir_lock import LOCK_NAME, work_folder_lock

    folder = str(tmp_path / "work")
    probe = """
import sys
from avse_tf.workdir_lock import work_folder_lock
try:
    with work_folder_lock(sys.argv[1]):
        pass
except Exception as error:
    print(type(error).__name__, error)
    sys.exit(2)
"""
    with work_folder_lock(folder, "avse enhancement recipe --work_dir x"):
        with work_folder_lock(folder):  # a recipe calling its steps in-process
            assert os.path.isfile(os.path.join(folder, LOCK_NAME))
        other = subprocess.run([sys.executable, "-c", probe, folder], env=child_env(), capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)
        assert other.returncode == 2
        assert other.stdout.startswith(f"WorkFolderBusyError {folder} is in use by another avse process "
                                       f"(pid {os.getpid()}: avse enhancement recipe --work_dir x)"), other.stdout
    # Released: the other process gets it now; the lock file stays (deleting it would race).
    assert subprocess.run([sys.executable, "-c", probe, folder], env=child_env(), timeout=TIMEOUT, check=False).returncode == 0
    assert os.path.isfile(os.path.join(folder, LOCK_NAME))
    assert issubclass(WorkFolderBusyError, avse_tf.errors.UserInputError)
    # A corpus that is not there is not created by the lock (the step reports it missing).
    assert main(["enhancement", "tbm_computation", "--data_dir", str(tmp_path / "none"), "--speaker_ids", "1"]) == 2
    assert not os.path.exists(tmp_path / "none")


@pytest.mark.parametrize("command, folder", [
    ("synth-grid --out W", "W"),
    ("enhancement audio_preprocessing --data_dir D --speaker_ids 1", "D"),
    ("enhancement video_preprocessing --data_dir D --speaker_ids 1", "D"),
    ("enhancement tbm_computation --data_dir D --speaker_ids 1", "D"),
    ("enhancement mixed_speech_generator --data_dir D --base_speaker_ids 1 --dest_dir m", "D"),
    ("enhancement tfrecords_generator --data_dir D", "D"),
    ("enhancement training --data_dir D --train_set t --val_set v --exp e", "D/experiments/e"),
    ("enhancement testing --data_dir D --test_set t --exp e", "D/enhanced/e"),
    ("enhancement testing --data_dir D --test_set t --exp e --mask_dir m", "D"),
    ("enhancement recipe --work_dir W", "W"),
    ("inpainting audio_preprocessing --data_dir D --speaker_ids 1", "D"),
    ("inpainting video_preprocessing --data_dir D --speaker_ids 1", "D"),
    ("inpainting gap_generator --data_dir D --train_speakers 1 --val_speakers 2 --test_speakers 3", "D"),
    ("inpainting tfrecords_generator --data_dir D", "D"),
    ("inpainting training --data_dir D --exp e", "D/experiments/e"),
    ("inpainting testing --data_dir D --test_set r/TEST_SET --exp e", "D/inpainted/e/TEST_SET"),
    ("inpainting recipe --work_dir W", "W"),
    ("speech2vid extract_features --data_dir D --features_dir F", "F"),
    ("speech2vid prepare_data --features_dir F --processed_dir P", "P"),
    ("speech2vid train --processed_dir P --exp_dir X", "X"),
    ("speech2vid train_deblur --processed_dir P --exp_dir X", "X"),
    ("speech2vid evaluate --model m --processed_dir P --output_dir O", "O"),
])
def test_every_long_command_locks_the_folder_it_writes(command, folder):
    from avse_tf.cli.main import build_parser
    from avse_tf.workdir_lock import resolve_work_folder

    args = build_parser().parse_args(command.split())
    assert os.path.normpath(resolve_work_folder(args)[0]) == os.path.normpath(folder)


def test_only_the_chief_of_a_multi_worker_cluster_locks_the_experiment(monkeypatch):
    from avse_tf.cli.main import build_parser
    from avse_tf.workdir_lock import resolve_work_folder

    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, expected in ((0, "D/experiments/e"), (1, None)):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        for command, folder in (("enhancement training --data_dir D --train_set t --val_set v --exp e", expected),
                                ("speech2vid train --processed_dir P --exp_dir X", expected and "X")):
            assert resolve_work_folder(build_parser().parse_args(command.split()))[0] == folder


def test_disk_full_is_recognised_in_every_form_it_takes():
    import errno

    from avse_tf.errors import DiskFullError, disk_full_error

    message = "and run the same command again (finished files are kept)"
    found = disk_full_error(OSError(errno.ENOSPC, "No space left on device"), "/data/run/last.keras")
    assert isinstance(found, DiskFullError) and str(found) == (
        f"disk full writing /data/run/last.keras: free space on /data/run {message}")
    # TensorFlow's writers (ResourceExhaustedError) name the temporary: the folder is reported.
    tf_like = RuntimeError("/data/rec/.tmp-ab12.tfrecord; No space left on device")
    assert str(disk_full_error(tf_like)) == f"disk full writing in /data/rec: free space on /data/rec {message}"
    ffmpeg = RuntimeError("ffmpeg failed writing /c/s1/video/x.mpg: Error writing trailer: No space left on device")
    assert str(disk_full_error(ffmpeg)).startswith("disk full writing /c/s1/video/x.mpg: ")
    try:  # raised from (h5py, Keras wrap the OSError)
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise ValueError("could not save") from cause
    except ValueError as wrapped:
        assert isinstance(disk_full_error(wrapped, "/x/y.h5"), DiskFullError)
    assert disk_full_error(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full_error(ValueError("bad shape")) is None


def test_cli_prints_one_line_for_a_full_disk(tmp_path, monkeypatch, capsys):
    import errno

    from avse_tf.data.synth import corpus

    def full(*args, **kwargs):
        with avse_tf.utils.atomic_path(tmp_path / "out" / "s1" / "audio" / "a.wav") as temporary:
            with open(temporary, "wb") as handle:
                handle.write(b"RIFF")
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(corpus, "generate_grid_corpus", full)
    assert main(["synth-grid", "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    audio = tmp_path / "out" / "s1" / "audio"
    expected = (f"avse: error: disk full writing {audio / 'a.wav'}: free space on {audio} and run the same command "
                "again (finished files are kept)")
    assert lines == [expected]
    assert os.listdir(tmp_path / "out" / "s1" / "audio") == []  # the temporary is gone
