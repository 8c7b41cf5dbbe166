"""One writer per work folder: an exclusive ``flock`` on ``<folder>/.avse.lock``.

Long commands (corpus steps, training, testing, recipes) take the lock of the folder they write
before they start (:func:`avse_tf.cli.main.main` does it for every sub-command that declares
``set_defaults(work_folder=...)``). A second avse process on the same folder fails at once with
:class:`~avse_tf.errors.WorkFolderBusyError`, naming the holder's pid and command line.

The kernel releases a ``flock`` when its process ends, however it ends (``kill -9`` included), so a
stale lock never blocks the resume of a killed run; the lock file itself is left in place
(deleting it on exit would race with a process that has just opened it). Within one process the
lock is re-entrant: a recipe that calls the steps in-process does not block on itself.
On systems without ``fcntl`` (Windows) no lock is taken.
"""

from __future__ import annotations

import contextlib
import os
import threading

from avse_tf.errors import WorkFolderBusyError
from avse_tf.utils import UMASK

LOCK_NAME = ".avse.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_held: dict = {}  # real folder path -> [descriptor, depth]
_guard = threading.Lock()


def _holder(descriptor) -> str:
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        text = os.read(descriptor, 4096).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "another avse process"
    return f"another avse process (pid {pid}: {command})" if command else f"another avse process (pid {pid})"


@contextlib.contextmanager
def work_folder_lock(folder, command: str = "avse", create: bool = True):
    """Hold the exclusive lock of ``folder`` for the block; ``create``: make it if missing.

    Raises :class:`WorkFolderBusyError` at once if another process holds it. A path that exists
    but is not a folder, or a missing folder not to be created, is not locked (the command itself
    reports it).
    """
    folder = os.path.abspath(os.fspath(folder))
    if fcntl is None or (os.path.exists(folder) and not os.path.isdir(folder)) or (
            not create and not os.path.isdir(folder)):
        yield
        return
    os.makedirs(folder, exist_ok=True)
    key = os.path.realpath(folder)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    descriptor = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666 & ~UMASK)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held by another process
        holder = _holder(descriptor)
        os.close(descriptor)
        raise WorkFolderBusyError(f"{folder} is in use by {holder}; wait for it to finish or use another "
                                  "folder") from None
    try:  # who holds it, for the message of a second process; best effort (the flock is the lock)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()} {command[:300]}\n".encode("utf-8", "replace"))
    except OSError:
        pass
    with _guard:
        _held[key] = [descriptor, 1]
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        os.close(descriptor)  # releases the flock


def experiment_folder(args):
    """``work_folder`` of the training commands: ``<data_dir>/experiments/<exp>``. Under a
    multi-worker cluster (``TF_CONFIG``) every worker runs the command on one folder: only the chief,
    which writes it, holds the lock."""
    from avse_tf.training.strategy import is_chief

    if not is_chief():
        return None
    return os.path.join(args.data_dir, "experiments", str(args.exp))


def chief_folder(name: str):
    """``work_folder`` of a training command whose folder is the argument ``name``: only the chief of a
    multi-worker cluster locks it (see :func:`experiment_folder`)."""
    def folder(args):
        from avse_tf.training.strategy import is_chief

        return getattr(args, name) if is_chief() else None

    return folder


def resolve_work_folder(args):
    """``(folder, create)`` of a parsed command's ``set_defaults(work_folder=...)``: the name of an
    argument holding the folder, or a callable of the arguments; ``(None, False)`` when there is none.
    The corpus of the corpus steps (``data_dir``) must exist (not created: the step reports it
    missing); output folders (``--out``, ``--work_dir``, an experiment...) are made."""
    spec = getattr(args, "work_folder", None)
    if spec is None:
        return None, False
    folder = spec(args) if callable(spec) else getattr(args, spec, None)
    data_dir = getattr(args, "data_dir", None)
    # Nothing is made inside a corpus that is not there: the command says it is missing.
    create = spec != "data_dir" and (data_dir is None or os.path.isdir(data_dir))
    return folder, create
