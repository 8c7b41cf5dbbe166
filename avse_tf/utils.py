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


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A job killed mid-write leaves the old file (or none), never a half-written one.
    """
    # Normalised once: a "missing/../x" path would otherwise be made lexically but renamed onto
    # through a folder that does not exist.
    path = os.path.abspath(os.fspath(path))
    temporary = temporary_beside(path, os.path.splitext(path)[1])
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)


def atomic_save_npy(path, array) -> None:
    import numpy as np

    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, array, allow_pickle=False)


def progress(iterable, description: str, total=None, disable=None):
    """A tqdm progress bar on stderr, hidden when stderr is not a terminal unless AVSE_PROGRESS=1."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not (sys.stderr.isatty() or os.environ.get("AVSE_PROGRESS") == "1")
    return tqdm(iterable, desc=description, total=total, disable=disable, unit="file", dynamic_ncols=True)
