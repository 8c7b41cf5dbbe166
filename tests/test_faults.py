"""Faults injected and survived (issue 14): ``kill -9`` mid-run, a full disk, two writers.

Two chains of the enhancement pipeline run side by side on one tiny synthetic corpus (3 speakers x 3
utterances): the reference chain runs each command once, uninterrupted (in-process, through
``avse_tf.cli.main.main``: the same code as the console script, without a TensorFlow start-up per
step); the faulted chain runs each command as a real subprocess (``python -m avse_tf ...``, its own
session, so ffmpeg children die with it), kills the whole process group with SIGKILL at a seeded
point, runs the same command again and compares: every output file identical (sha256) for the
deterministic steps, the same record examples for the records, and for training each epoch in
``history.csv`` exactly once and ``done.json``.

Kill points are deterministic, never a sleep: either "the k-th output file exists" (polled while the
process is asserted to be still running; these kills land mid-write) or the library's test hook
``AVSE_TEST_STOP_AFTER_WRITES=k``, with which the process stops itself (SIGSTOP) right after its
k-th atomic write and is then killed while certainly alive (for the steps whose files come too fast to
poll). k is drawn from ``random.Random(AVSE_FAULT_SEED)`` (default 14); a failure prints the seed.

The tests of one chain depend on the ones before them (pytest runs them in file order); a step
whose predecessor failed is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import avse_tf
import avse_tf.errors
import avse_tf.utils
from avse_tf.cli.main import main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9, flock, /proc and tmpfs: Linux")

SEED = int(os.environ.get("AVSE_FAULT_SEED", "14"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(avse_tf.__file__)))
SPEAKERS = ["1", "2", "3"]
EPOCHS = 5
TIMEOUT = 300


def draw(name: str, low: int, high: int) -> int:
    """The seeded kill point of one test (independent of the order the tests run in)."""
    return random.Random(f"{SEED}:{name}").randint(low, high)


def child_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(AVSE_PROGRESS="0", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("AVSE_TEST_STOP_AFTER_WRITES", None)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start(args, log_dir, **env):
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "stdout.txt"), "ab") as out, open(os.path.join(log_dir, "stderr.txt"), "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "avse_tf", *map(str, args)], stdout=out, stderr=err,
                                env=child_env(**env), start_new_session=True, cwd=log_dir)
    proc.log_dir = log_dir
    return proc


def stderr_of(proc) -> str:
    with open(os.path.join(proc.log_dir, "stderr.txt"), encoding="utf-8", errors="replace") as handle:
        return handle.read()


def live_members(group: int) -> list:
    """Processes of a process group that have not exited yet (zombies have: they hold no files)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry))
    return members


def kill_group(proc) -> None:
    """SIGKILL the command and its children (ffmpeg); return once none of them runs any more (a child
    caught between fork and exec would otherwise hold the lock's descriptor a moment longer)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def wait_until(proc, condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"{what}: the process ended (exit {proc.returncode}) before the kill point "
                        f"(AVSE_FAULT_SEED={SEED}); stderr:\n{stderr_of(proc)[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"{what}: kill point not reached in {TIMEOUT} s")
        time.sleep(0.005)


def process_state(pid) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


def kill_when(args, log_dir, condition, what):
    """Run ``avse args``; SIGKILL its process group as soon as ``condition()`` holds (it must still run)."""
    proc = start(args, log_dir)
    wait_until(proc, condition, what)
    assert proc.poll() is None, f"{what}: finished before it could be killed (AVSE_FAULT_SEED={SEED})"
    kill_group(proc)


def kill_after_writes(args, log_dir, writes: int, what):
    """Run ``avse args``; it stops itself after its ``writes``-th atomic write; SIGKILL it there."""
    proc = start(args, log_dir, AVSE_TEST_STOP_AFTER_WRITES=writes)
    wait_until(proc, lambda: process_state(proc.pid) == "T", f"{what} (stop after write {writes})")
    kill_group(proc)


def count_files(root, suffixes) -> int:
    return sum(1 for _, _, names in os.walk(root) for name in names
               if name.endswith(suffixes) and not name.startswith("."))


def digest(root, skip=()) -> dict:
    """sha256 of every file under ``root`` (relative path -> hex), without the lock file, hidden
    temporaries of killed writes (.tmp-*, ignored by every reader) and the folders in ``skip``."""
    found = {}
    for folder, folders, names in os.walk(root):
        relative = os.path.relpath(folder, root)
        folders[:] = sorted(name for name in folders if os.path.normpath(os.path.join(relative, name)) not in skip)
        for name in names:
            if name == ".avse.lock" or name.startswith(".tmp-"):
                continue
            with open(os.path.join(folder, name), "rb") as handle:
                found[os.path.normpath(os.path.join(relative, name))] = hashlib.sha256(handle.read()).hexdigest()
    return found


def assert_same_files(reference, faulted, skip=()):
    expected, actual = digest(reference, skip), digest(faulted, skip)
    assert sorted(actual) == sorted(expected), (f"AVSE_FAULT_SEED={SEED}: files differ: missing "
                                                f"{sorted(set(expected) - set(actual))}, extra {sorted(set(actual) - set(expected))}")
    changed = sorted(name for name in expected if expected[name] != actual[name])
    assert not changed, f"AVSE_FAULT_SEED={SEED}: content differs after kill -9 and resume: {changed}"


def rerun(args) -> None:
    """The same command again, after the kill: the stale lock must not block it."""
    assert main([str(arg) for arg in args]) == 0


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


# ----------------------------------------------------------------------------------------------
# The two chains

class Chains:
    def __init__(self, root):
        self.root = str(root)
        self.reference = os.path.join(self.root, "reference", "corpus")
        self.faulted = os.path.join(self.root, "faulted", "corpus")
        self.logs = os.path.join(self.root, "logs")
        self.link = os.path.join(self.root, "corpus")
        self.failed = None
        os.makedirs(self.reference)
        os.makedirs(self.faulted)

    def use(self, chain: str) -> str:
        """Point the ``corpus`` symlink at one chain's folder and return the link: both chains see the
        same path, so the paths the records and reports hold (mixture_path...) are the same too."""
        temporary = self.link + ".new"
        os.symlink(self.reference if chain == "reference" else self.faulted, temporary)
        os.replace(temporary, self.link)
        return self.link

    def log(self, name):
        return os.path.join(self.logs, name)

    def require(self, step):
        if self.failed:
            pytest.skip(f"an earlier step failed ({self.failed})")
        self.current = step

    # Commands (corpus folder first argument)
    @staticmethod
    def synth(corpus):
        return ["synth-grid", "--out", corpus, "--speakers", "3", "--utterances", "3", "--seed", "5"]

    @staticmethod
    def video(corpus):
        return ["enhancement", "video_preprocessing", "--data_dir", corpus, "--speaker_ids", *SPEAKERS]

    @staticmethod
    def tbm(corpus):
        return ["enhancement", "tbm_computation", "--data_dir", corpus, "--speaker_ids", *SPEAKERS]

    @staticmethod
    def mixtures(corpus, name):
        sets = {"TRAINING_SET": (["1", "2"], "3", "2", "1"), "VALIDATION_SET": (["3"], "2", "1", "2"),
                "TEST_SET": (["3"], "2", "1", "3")}
        base, samples, count, seed = sets[name]
        return ["enhancement", "mixed_speech_generator", "--data_dir", corpus, "--base_speaker_ids", *base,
                "--noisy_speaker_ids", *SPEAKERS, "--dest_dir", f"mix/{name}", "--num_samples", samples,
                "--num_mix", count, "--seed", seed]

    @staticmethod
    def records(corpus, dest="tfrecords"):
        return ["enhancement", "tfrecords_generator", "--data_dir", corpus, "--examples_per_shard", "1",
                "--dest_dir", dest]

    @staticmethod
    def training(corpus, exp="e"):
        return ["enhancement", "training", "--data_dir", corpus, "--train_set", "tfrecords/TRAINING_SET",
                "--val_set", "tfrecords/VALIDATION_SET", "--exp", exp, "--model", "vl2m", "--hidden_units", "8",
                "--layers", "1", "--epochs", str(EPOCHS), "--batch_size", "2", "--patience", "100", "--seed", "1"]

    @staticmethod
    def testing(corpus, output_dir):
        return ["enhancement", "testing", "--data_dir", corpus, "--test_set", "tfrecords/TEST_SET", "--exp", "e",
                "--metrics", "sdr,si_sdr", "--output_dir", output_dir]


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    return Chains(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def step(chains, request):
    """One step of the chains: skipped if an earlier one failed; marks the chains failed if it fails."""
    chains.require(request.node.name)
    failures = request.session.testsfailed
    yield chains
    if request.session.testsfailed > failures:
        chains.failed = request.node.name


@pytest.mark.slow
def test_synth_grid_killed_mid_write_resumes_to_the_same_bytes(step):
    chains = step
    assert main(chains.synth(chains.use("reference"))) == 0
    total = 3 * 3 * 3
    k = draw("synth", 3, 10)
    kill_when(chains.synth(chains.use("faulted")), chains.log("synth"),
              lambda: count_files(chains.faulted, (".wav", ".mpg", ".align")) >= k, f"synth-grid after {k} files")
    assert count_files(chains.faulted, (".wav", ".mpg", ".align")) < total
    with open(os.path.join(chains.faulted, ".avse.lock"), encoding="utf-8") as handle:
        holder = handle.read()
    assert " avse synth-grid --out " in holder  # the killed process's lock file stays; its flock is gone
    # What a kill in the middle of a write leaves: a hidden temporary, which no step may take for input.
    for kind, ext in (("audio", ".wav"), ("video", ".mpg")):
        source = os.path.join(chains.reference, "s1", kind)
        with open(os.path.join(source, min(os.listdir(source))), "rb") as handle:
            half = handle.read()[:5000]
        os.makedirs(os.path.join(chains.faulted, "s1", kind), exist_ok=True)
        with open(os.path.join(chains.faulted, "s1", kind, ".tmp-killed" + ext), "wb") as handle:
            handle.write(half)
    rerun(chains.synth(chains.use("faulted")))
    assert_same_files(chains.reference, chains.faulted)


@pytest.mark.slow
def test_video_preprocessing_killed_resumes_to_the_same_landmarks(step):
    chains = step
    assert main(chains.video(chains.use("reference"))) == 0
    k = draw("video", 1, 5)
    kill_when(chains.video(chains.use("faulted")), chains.log("video"),
              lambda: count_files(chains.faulted, ".txt") >= k, f"video_preprocessing after {k} landmark files")
    rerun(chains.video(chains.use("faulted")))
    assert_same_files(chains.reference, chains.faulted)


@pytest.mark.slow
def test_tbm_computation_killed_resumes_to_the_same_masks(step):
    chains = step
    assert main(chains.tbm(chains.use("reference"))) == 0
    k = draw("tbm", 2, 8)
    kill_after_writes(chains.tbm(chains.use("faulted")), chains.log("tbm"), k, "tbm_computation")
    rerun(chains.tbm(chains.use("faulted")))
    assert_same_files(chains.reference, chains.faulted)


@pytest.mark.slow
def test_mixed_speech_generator_killed_resumes_and_a_second_writer_is_refused(step, capsys):
    chains = step
    for name in ("TRAINING_SET", "VALIDATION_SET", "TEST_SET"):
        assert main(chains.mixtures(chains.reference, name)) == 0
    k = draw("mix", 2, 8)
    kill_after_writes(chains.mixtures(chains.use("faulted"), "TRAINING_SET"), chains.log("mix"), k, "mixed_speech_generator")
    rerun(chains.mixtures(chains.use("faulted"), "TRAINING_SET"))

    # Two writers: the first holds the folder (stopped after its first write); the second is refused
    # at once with one line and exit 2; the first, continued, finishes with the right output.
    first = start(chains.mixtures(chains.use("faulted"), "VALIDATION_SET"), chains.log("mix-first"),
                  AVSE_TEST_STOP_AFTER_WRITES=1)
    try:
        wait_until(first, lambda: process_state(first.pid) == "T", "first writer")
        capsys.readouterr()
        assert main(chains.mixtures(chains.use("faulted"), "TEST_SET")) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"avse: error: {chains.link} is in use by another avse process "
                                   f"(pid {first.pid}: avse enhancement mixed_speech_generator"), lines[0]
        assert lines[0].endswith("; wait for it to finish or use another folder")
        second = subprocess.run([sys.executable, "-m", "avse_tf", *chains.mixtures(chains.use("faulted"), "TEST_SET")],
                                env=child_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert second.returncode == 2 and second.stderr.count("\n") == 1 and "is in use by another avse" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert first.wait(timeout=TIMEOUT) == 0, stderr_of(first)
    rerun(chains.mixtures(chains.use("faulted"), "TEST_SET"))  # now free
    assert_same_files(chains.reference, chains.faulted)


@pytest.mark.slow
def test_tfrecords_generator_killed_resumes_to_the_same_examples(step):
    from avse_tf.records import read_examples

    chains = step
    assert main(chains.records(chains.use("reference"))) == 0
    k = draw("records", 2, 14)
    kill_after_writes(chains.records(chains.use("faulted")), chains.log("records"), k, "tfrecords_generator")
    rerun(chains.records(chains.use("faulted")))
    for name in ("TRAINING_SET", "VALIDATION_SET", "TEST_SET"):
        expected = read_examples(os.path.join(chains.reference, "tfrecords", name, "records.json"))
        actual = read_examples(os.path.join(chains.faulted, "tfrecords", name, "records.json"))
        assert len(actual) == len(expected) > 0
        for want, got in zip(expected, actual):
            assert sorted(got) == sorted(want)
            for feature in want:
                np.testing.assert_array_equal(got[feature], want[feature], err_msg=f"{name} {feature}")
    assert_same_files(chains.reference, chains.faulted)


def read_history(exp_dir):
    import csv

    with open(os.path.join(exp_dir, "history.csv"), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_training_killed_resumes_without_losing_or_repeating_epochs(step):
    chains = step
    assert main(chains.training(chains.use("reference"))) == 0
    # 3 writes before the first epoch (config, statistics), then 4 per epoch: kill in epochs 0-2,
    # wherever in an epoch's sequence of writes the k-th falls.
    k = draw("training", 3, 12)
    kill_after_writes(chains.training(chains.use("faulted")), chains.log("training"), k, "training")
    exp_dir = os.path.join(chains.faulted, "experiments", "e")
    assert not os.path.exists(os.path.join(exp_dir, "done.json"))
    metadata = os.path.join(exp_dir, "backup", "training_metadata.json")
    backed_up = 0
    if os.path.isfile(metadata):
        with open(metadata, encoding="utf-8") as handle:
            backed_up = json.load(handle)["epoch"]
    rerun(chains.training(chains.use("faulted")))
    history = read_history(exp_dir)
    assert [int(row["epoch"]) for row in history] == list(range(EPOCHS)), history
    assert os.path.isfile(os.path.join(exp_dir, "done.json"))
    assert not os.path.exists(os.path.join(exp_dir, "backup"))
    reference = read_history(os.path.join(chains.reference, "experiments", "e"))
    assert [row["epoch"] for row in reference] == [row["epoch"] for row in history]
    # The epochs the killed run had backed up are kept as they were (the same rows as the
    # uninterrupted run's); the later ones ran again. (Their losses differ in the 4th digit: the
    # training set is reshuffled each epoch from one seed, so a resumed run's epoch e gets the first
    # order, not the e-th; weights and optimiser state themselves are restored.)
    assert history[:backed_up] == reference[:backed_up]
    # Records, corpus and everything before training untouched by it.
    assert_same_files(chains.reference, chains.faulted, skip=("experiments",))


@pytest.mark.slow
def test_testing_killed_resumes_to_the_same_outputs(step):
    chains = step
    # Both runs test the faulted chain's model: the comparison is about testing, not training.
    assert main(chains.testing(chains.use("faulted"), "enhanced_reference")) == 0
    k = draw("testing", 1, 3)
    kill_after_writes(chains.testing(chains.use("faulted"), "enhanced"), chains.log("testing"), k, "testing")
    rerun(chains.testing(chains.use("faulted"), "enhanced"))
    assert_same_files(os.path.join(chains.faulted, "enhanced_reference"), os.path.join(chains.faulted, "enhanced"))


# ----------------------------------------------------------------------------------------------
# A full disk

@pytest.fixture
def small_disk(tmp_path):
    """Mount a small tmpfs (root; else a user + mount namespace is not usable from here: skip)."""
    mounts = []

    def mount(path, size_kb):
        os.makedirs(path, exist_ok=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a size-limited tmpfs (needs root): {result.stderr.strip()}")
        mounts.append(str(path))
        return str(path)

    yield mount
    for path in reversed(mounts):
        subprocess.run(["umount", "-l", path], check=False)


# TensorFlow's C++ runtime logs on its own (e.g. "E0000 ... oneDNN supports DT_BOOL only on platforms with
# AVX-512" on some CPUs during any training); those lines are not avse's and not about the fault.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] ")


def assert_one_disk_full_line(result, where):
    lines = [line for line in result.stderr.strip().splitlines() if not TF_LOG_LINE.match(line)]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr[-3000:]}"
    assert lines[0].startswith(f"avse: error: disk full writing {where}"), lines[0]
    assert lines[0].endswith("and run the same command again (finished files are kept)"), lines[0]


def temporaries(root):
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names
            if name.startswith(".tmp-")]


def run_cli(args):
    return subprocess.run([sys.executable, "-m", "avse_tf", *map(str, args)], env=child_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


@pytest.mark.slow
def test_disk_full_during_synth_grid_one_line_and_only_complete_files(chains, small_disk):
    """Room for about one utterance: exit 2, one line, and the files that are there are whole ones
    (byte for byte those of the uninterrupted reference corpus, same seed)."""
    corpus = small_disk(os.path.join(chains.root, "full-synth"), 300)
    result = run_cli(Chains.synth(corpus))
    assert_one_disk_full_line(result, corpus)
    assert not temporaries(corpus)
    left = digest(corpus)
    assert any(name.endswith(".wav") for name in left)
    if count_files(chains.reference, ".mpg") == 9:
        expected = digest(chains.reference)
        assert {name: expected.get(name) for name in left} == left


@pytest.mark.slow
def test_disk_full_during_records_and_training(chains, small_disk):
    """TensorFlow's record writer (ResourceExhaustedError) and Keras / h5py saves (OSError ENOSPC)."""
    if not os.path.isfile(os.path.join(chains.faulted, "tfrecords", "TRAINING_SET", "records.json")):
        pytest.skip("needs the faulted chain's corpus and records (an earlier test failed)")
    # Records: the training set's shards fill the disk part-way.
    records = small_disk(os.path.join(chains.root, "full-records"), 400)
    result = run_cli(Chains.records(chains.use("faulted"), records))
    assert_one_disk_full_line(result, "")
    assert not temporaries(records)
    reference = digest(os.path.join(chains.reference, "tfrecords"))
    left = digest(records)
    assert left, "nothing was written before the disk was full"
    assert not any(name.endswith("records.json") and name.startswith("TRAINING_SET") for name in left)
    assert {name: reference.get(name) for name in left} == left  # complete shards only, as the reference's

    # Training: the experiment folder on a disk with room for the first checkpoint only.
    small_disk(os.path.join(chains.faulted, "experiments", "full"), 300)
    result = run_cli(Chains.training(chains.use("faulted"), exp="full"))
    assert_one_disk_full_line(result, os.path.join(chains.link, "experiments", "full"))
    assert not temporaries(os.path.join(chains.faulted, "experiments", "full"))


# ----------------------------------------------------------------------------------------------
# A recipe: every step in one process, killed anywhere from the corpus to training

RECIPE = ["enhancement", "recipe", "--speakers", "8", "--utterances", "2", "--epochs", "2", "--hidden_units", "8",
          "--layers", "1", "--batch_size", "4", "--num_speakers", "2", "--models", "vl2m", "--metrics", "sdr",
          "--num_mix", "1", "--seed", "3"]


@pytest.mark.slow
def test_recipe_killed_resumes_to_the_same_corpus_records_and_a_full_table(tmp_path):
    """``avse enhancement recipe`` (the cheapest recipe made tiny: 8 speakers x 2 utterances, VL2M only,
    2 epochs of 8 units) killed after a seeded number of its ~135 writes, run again, compared with an
    uninterrupted run: the same corpus, landmarks, masks, mixtures and records byte for byte; each
    epoch once; the table. Both run at one path (a symlink) as the records hold absolute paths."""
    link = str(tmp_path / "work")
    reference, faulted = str(tmp_path / "reference"), str(tmp_path / "faulted")

    def use(folder):
        os.makedirs(folder, exist_ok=True)
        os.symlink(folder, link + ".new")
        os.replace(link + ".new", link)
        return ["--work_dir", link]

    assert main(RECIPE + use(reference)) == 0
    k = draw("recipe", 5, 100)
    kill_after_writes(RECIPE + use(faulted), str(tmp_path / "logs"), k, "recipe")
    assert not os.path.isfile(os.path.join(faulted, "results", "table.txt"))
    rerun(RECIPE + use(faulted))
    assert_same_files(os.path.join(reference, "corpus"), os.path.join(faulted, "corpus"))
    history = read_history(os.path.join(faulted, "experiments", "2spk", "vl2m"))
    assert [int(row["epoch"]) for row in history] == [0, 1]
    with open(os.path.join(faulted, "results", "table.txt"), encoding="utf-8") as handle:
        assert "vl2m" in handle.read()
