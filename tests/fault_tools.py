"""Helpers of the fault-injection tests (tests/test_faults*.py): seeded kill points, process groups,
file digests. See tests/test_faults.py for how they are used."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

import avse_tf
import avse_tf.errors
import avse_tf.utils
from avse_tf.cli.main import main

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
