"""File permissions that really bind: root may read and write any file, so as root the code under test runs as
`nobody` for a moment (in this process, in a folder everybody may enter), and a file a child process must not write
is made immutable (chattr +i binds root too; a child cannot run as nobody: the interpreter may live in /root)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0
NOBODY = 65534


@contextmanager
def as_stranger():
    """Within the block, this process is `nobody` when it was root (a no-op otherwise)."""
    if not ROOT:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def open_dir():
    """A folder (outside pytest's private tmp tree) that `nobody` may enter and write."""
    path = Path(tempfile.mkdtemp(prefix="ft-test-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_read_only(path) -> None:
    """Nobody may write the file any more, root included (for a child process of this test)."""
    if ROOT:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, f"chattr +i {path} failed ({done.stderr.strip()}): needs ext4/xfs/btrfs"
    else:
        os.chmod(path, 0o444)


def make_writable(path) -> None:
    if ROOT:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        os.chmod(path, 0o666)
