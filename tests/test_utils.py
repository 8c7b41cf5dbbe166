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
