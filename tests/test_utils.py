"""Atomic writes: the file appears whole or not at all, with the mode a plain open() gives."""

import os
import stat

import numpy as np
import pytest

from avse_tf.utils import UMASK, atomic_path, atomic_save_npy, atomic_write_text


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_files_follow_the_umask_like_open(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    text = tmp_path / "sub" / "table.txt"
    atomic_write_text(text, "a table\n")
    array = tmp_path / "mask.npy"
    atomic_save_npy(array, np.arange(6, dtype=np.float32).reshape(2, 3))
    # mkstemp alone would give 0600: a corpus or results folder shared with a group would be unreadable.
    assert _mode(text) == _mode(array) == _mode(plain) == 0o666 & ~UMASK
    assert text.read_text(encoding="utf-8") == "a table\n"
    np.testing.assert_array_equal(np.load(array), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(os.listdir(tmp_path)) == ["summary.json"]


def test_progress_lines_without_a_terminal(monkeypatch):
    """Off a terminal: a line after the first item, one per tenth (or per minute), one at the end."""
    import io

    from avse_tf.utils import LogProgress, progress

    stream = io.StringIO()
    assert list(LogProgress(range(25), "step", stream=stream)) == list(range(25))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "step: 1/25 files, 0:00 elapsed, ~0:00 remaining"
    assert lines[-1].startswith("step: 25/25 files, ") and lines[-1].endswith(", done")
    assert [line.split("/")[0] for line in lines[:-1]] == [f"step: {n}" for n in range(1, 25, 2)]  # every 25 // 10
    assert all("remaining" in line for line in lines[1:-1])
    monkeypatch.setenv("AVSE_PROGRESS", "0")
    items = [1, 2]
    assert progress(items, "quiet") is items
    monkeypatch.setenv("AVSE_PROGRESS", "lines")
    assert isinstance(progress(items, "logged"), LogProgress)
