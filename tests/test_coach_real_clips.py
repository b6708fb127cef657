"""Real labelled clips through the trained classifier and the coach, in-process; skipped without data or models."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from common.config import Settings
from offline.coach_eval import CLIPS_DIR, model_stream, run_clip
from services.coach.processor import CoachProcessor
from common.history import HistoryWriter

MODELS = Path(Settings().models_dir)
pytestmark = [
    pytest.mark.skipif(not CLIPS_DIR.is_dir(), reason=f"labelled clips not found at {CLIPS_DIR}"),
    pytest.mark.skipif(not (MODELS / "metadata.json").exists(), reason=f"no trained models in {MODELS}"),
]

# A few clips of each kind, with their labels (reps, or hold seconds): clean cases the coach must get right.
CASES = [
    ("PushUp-Counter/pushup2.mp4", "push_up", 4, None),
    ("lightweight-human-pose-e/squats.mp4", "squat", 10, None),
    ("aiTrainer/squats.mp4", "squat", 3, None),
    ("Fitness/plank.mp4", "plank", None, 12.4),
    ("videos/starfish.mp4", "other", 0, None),
]


@pytest.fixture(scope="module")
def cascade():
    from services.classifier.cascade import Cascade
    return Cascade.load(str(MODELS))


@pytest.mark.parametrize("name, exercise, reps, hold", CASES)
def test_clip_counts_match_the_label(cascade, name, exercise, reps, hold):
    from offline.landmark_cache import extract
    clip = extract(CLIPS_DIR / name)   # cached landmarks when present (~20 ms per frame otherwise)
    with tempfile.TemporaryDirectory() as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "w.sqlite3"), Settings())
        summary, _ = run_clip(processor, name, clip, model_stream(clip, cascade, Settings().vote_window))
    totals = summary["totals"]
    if exercise == "other":
        assert sum(t["reps"] for t in totals.values()) == 0
    elif hold is not None:
        assert abs(totals[exercise]["hold_seconds"] - hold) <= 1.5
    else:
        assert totals[exercise]["reps"] == reps
        assert summary["segments"] and all(s["exercise"] in totals for s in summary["segments"])
