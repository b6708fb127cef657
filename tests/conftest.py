"""Shared fixtures: where the real clips live (tests that need them skip cleanly without them)."""
from pathlib import Path

import pytest

from common.config import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
CLIPS = SHARED_DATA / "clips"


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    if not (CLIPS / "labels.csv").is_file():
        pytest.skip(f"real clips not found at {CLIPS} (the shared data folder beside the checkout)")
    return CLIPS


@pytest.fixture(scope="session")
def clip_labels(clips_dir):
    from offline.evaluate import read_labels
    return read_labels(clips_dir / "labels.csv")
