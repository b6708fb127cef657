"""File permissions that really bind: root may read and write any file, so as root the code under test runs as
`nobody` (in this process for a moment, or as a child process) in a folder everybody may enter."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0
NOBODY = 65534
# A uid for child processes (tests.procs.Service(user=...)); None when we are not root (we are bound already).
CHILD_USER = NOBODY if ROOT else None


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
