"""Small helpers shared by every module: atomic writes, progress bars."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

# Read once at import (reading it means setting it, which is not thread-safe): files written
# through a temporary get the mode a plain open() would give, not mkstemp's owner-only 0600, so a
# corpus or a results folder stays readable by the group / others as the user's umask allows.
UMASK = os.umask(0o022)
os.umask(UMASK)


def temporary_beside(path, suffix: str = "") -> str:
    """Create an empty temporary file in ``path``'s folder (made if missing) and return its path.

    Its mode follows the umask like a plain ``open`` (tempfile.mkstemp would leave it 0600).
    """
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(descriptor)
    os.chmod(temporary, 0o666 & ~UMASK)  # os.chmod, not fchmod: the latter does not exist on Windows
    return temporary


_atomic_writes = 0


def _fault_point() -> None:
    """Test hook of tests/test_faults.py: with ``AVSE_TEST_STOP_AFTER_WRITES=k`` the process stops
    itself (SIGSTOP) right after its k-th completed atomic write, so the test can ``kill -9`` it at a
    known point while it is certainly still running. Unset (always, outside that test): nothing."""
    global _atomic_writes
    limit = os.environ.get("AVSE_TEST_STOP_AFTER_WRITES")
    if not limit:
        return
    import signal

    _atomic_writes += 1
    if _atomic_writes == int(limit) and hasattr(signal, "SIGSTOP"):
        os.kill(os.getpid(), signal.SIGSTOP)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A job killed mid-write leaves the old file (or none), never a half-written one. A write that
    fails because the disk is full raises :class:`~avse_tf.errors.DiskFullError` naming ``path``.
    """
    # Normalised once: a "missing/../x" path would otherwise be made lexically but renamed onto
    # through a folder that does not exist.
    path = os.path.abspath(os.fspath(path))
    temporary = temporary_beside(path, os.path.splitext(path)[1])
    try:
        yield temporary
        os.replace(temporary, path)
        _fault_point()
    except Exception as error:
        from avse_tf.errors import disk_full_error

        full = disk_full_error(error, path)
        if full is None or full is error:
            raise
        raise full from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)


def atomic_save_npy(path, array) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()  # serialised in memory: a full disk then fails with ENOSPC (np.save gives no errno)
    np.save(buffer, array, allow_pickle=False)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(buffer.getbuffer())


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class LogProgress:
    """Progress as plain lines on stderr, for logs (nohup, a scheduler, CI): a line after the first item
    (not before: a step that fails on its first file leaves only the one-line error), then whenever
    another tenth is done or a minute has passed, and one when it ends; each with the count, the time
    elapsed and an estimate of the time remaining."""

    def __init__(self, iterable, description: str, total=None, unit: str = "file", stream=None,
                 min_interval: float = 60.0):
        self.iterable = iterable
        self.description = description
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.min_interval = min_interval

    def _line(self, done: int, started: float, final: bool = False) -> None:
        import time

        elapsed = time.monotonic() - started
        count = f"{done}/{self.total}" if self.total is not None else str(done)
        units = self.unit + ("es" if self.unit.endswith(("s", "ch", "sh", "x")) else "s")
        text = f"{self.description}: {count} {units}, {format_seconds(elapsed)} elapsed"
        if final:
            text += ", done"
        elif self.total and done:
            text += f", ~{format_seconds(elapsed / done * (self.total - done))} remaining"
        print(text, file=self.stream, flush=True)

    def __iter__(self):
        import time

        started = last_time = time.monotonic()
        last_done, done = 0, 0
        step = max(1, (self.total or 0) // 10)
        for item in self.iterable:
            yield item
            done += 1
            now = time.monotonic()
            due = done == 1 or done - last_done >= step or now - last_time >= self.min_interval
            if due and done != self.total:
                self._line(done, started)
                last_done, last_time = done, now
        self._line(done, started, final=True)


def progress(iterable, description: str, total=None, disable=None, unit: str = "file"):
    """Progress over ``iterable``: a tqdm bar on a terminal, :class:`LogProgress` lines otherwise.

    ``AVSE_PROGRESS``: ``bar`` (or ``1``) forces the bar, ``lines`` the lines, ``0`` shows nothing;
    ``disable=True`` shows nothing.
    """
    setting = os.environ.get("AVSE_PROGRESS", "").strip().lower()
    if disable is True or setting == "0":
        return iterable
    if setting in ("bar", "1") or (setting != "lines" and sys.stderr.isatty()):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=description, total=total, unit=unit, dynamic_ncols=True)
    return LogProgress(iterable, description, total, unit=unit)


def saved_model_dir(path):
    """The SavedModel folder at ``path``, or its newest numbered version folder."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [name for name in os.listdir(path) if name.isdigit()
                and os.path.isfile(os.path.join(path, name, "saved_model.pb"))]
    if versions:
        return os.path.join(path, max(versions, key=int))
    return None


def task_source(path) -> tuple:
    """What a task's ``from_path`` loads: ``(SavedModel folder, None)`` for a SavedModel export (its
    version folder or base path), else ``(None, keras path)``: a keras export folder's
    ``model.keras``, or ``path`` itself (a ``.keras`` file or an experiment folder)."""
    path = os.fspath(path)
    saved_model = saved_model_dir(path) if os.path.isdir(path) else None
    if saved_model:
        return saved_model, None
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")):
        return None, os.path.join(path, "model.keras")
    return None, path


def check_run_settings(folder, settings: dict, folder_flag: str, file_name: str = "preprocess.json") -> None:
    """A resumable preprocessing run's settings: written to ``folder/file_name`` on the first run; a
    later run on the same folder with other values is refused (one line naming them), since its
    outputs would mix two configurations."""
    import json

    from avse_tf.errors import UserInputError

    path = os.path.join(folder, file_name)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            previous = json.load(handle)
        changed = sorted(key for key in settings if previous.get(key) != settings[key])
        if changed:
            raise UserInputError(f"{folder} was made with other settings ({', '.join(changed)}); rerun with the "
                                 f"same flags to resume, or use a new {folder_flag}")
        return
    atomic_write_text(path, json.dumps(settings, indent=1) + "\n")
