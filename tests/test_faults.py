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

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from fault_tools import (
    EPOCHS,
    SPEAKERS,
    TIMEOUT,
    assert_same_files,
    child_env,
    count_files,
    digest,
    draw,
    kill_after_writes,
    kill_when,
    process_state,
    rerun,
    start,
    stderr_of,
    wait_until,
)

from avse_tf.cli.main import main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9, flock, /proc and tmpfs: Linux")

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

    def kill_and_rerun(self, args, name, low, high):
        """Run ``avse args``, SIGKILL it after its k-th atomic write (k seeded in [low, high]), run it again."""
        kill_after_writes(args, self.log(name), draw(name, low, high), name)
        rerun(args)

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
    chains.kill_and_rerun(chains.tbm(chains.use("faulted")), "tbm", 2, 8)
    assert_same_files(chains.reference, chains.faulted)


@pytest.mark.slow
def test_mixed_speech_generator_killed_resumes_and_a_second_writer_is_refused(step, capsys):
    chains = step
    for name in ("TRAINING_SET", "VALIDATION_SET", "TEST_SET"):
        assert main(chains.mixtures(chains.reference, name)) == 0
    chains.kill_and_rerun(chains.mixtures(chains.use("faulted"), "TRAINING_SET"), "mix", 2, 8)

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
    chains.kill_and_rerun(chains.records(chains.use("faulted")), "records", 2, 14)
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
    chains.kill_and_rerun(chains.testing(chains.use("faulted"), "enhanced"), "testing", 1, 3)
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
