"""A few real clips through the real processes (`fitness-trainer analyze`), checked against their labels."""
import json
import subprocess
import sys

import pytest

from common.config import PROJECT_ROOT
from common.exercises import EXERCISES

pytestmark = pytest.mark.e2e

# Short clips of different exercises, camera set-ups and sources. Tolerance: the exercise must be right,
# reps within one of the label (the labels of one-rep clips are "folder label" or per-frame source labels,
# themselves ±1 at clip edges), plank time within 1.5 s, nothing counted on a clip of another exercise.
CLIPS = ["WorkoutTracker/squat_13.mp4", "WorkoutTracker/push-up_38.mp4", "videos/plank.mp4",
         "computervision/jumpingjack_correct_005.mp4",
         "videos/starfish.mp4"]


@pytest.fixture(scope="module")
def analysed(clips_dir, tmp_path_factory):
    missing = tmp_path_factory.mktemp("x") / "no-such-clip.mp4"
    paths = [str(clips_dir / c) for c in CLIPS] + [str(missing)]
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "analyze", "--json", "--no-progress", *paths],
                          capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, {row["video"]: row for row in lines}, paths


def test_output_shape(analysed):
    proc, rows, paths = analysed
    for path in paths[:-1]:
        row = rows[path]
        assert set(row) == {"video", "frames", "fps", "seconds", "segments", "totals"}
        assert row["frames"] > 0 and row["fps"] > 0 and row["seconds"] > 0
        for seg in row["segments"]:
            assert set(seg) == {"exercise", "start_s", "end_s", "reps", "hold_seconds", "form_cues"}
            assert seg["exercise"] in EXERCISES and 0 <= seg["start_s"] <= seg["end_s"] <= row["seconds"] + 0.5
        for name, total in row["totals"].items():
            assert name in EXERCISES and set(total) == {"reps", "hold_seconds"}


def test_missing_clip_gets_one_clear_error_and_the_rest_still_run(analysed):
    proc, rows, paths = analysed
    assert proc.returncode == 1
    assert "not found" in rows[paths[-1]]["error"]
    assert sum("no-such-clip.mp4" in line for line in proc.stderr.splitlines()) == 1
    assert all("error" not in rows[p] for p in paths[:-1])


@pytest.mark.parametrize("clip", CLIPS)
def test_counts_match_labels(analysed, clip_labels, clips_dir, clip):
    from offline.evaluate import prediction
    _, rows, _ = analysed
    row = rows[str(clips_dir / clip)]
    label = clip_labels[clip]
    exercise, reps, hold = prediction(row)
    if label.exercise == "other":
        assert sum(t["reps"] for t in row["totals"].values()) == 0, row
        return
    assert exercise == label.exercise, row
    if label.reps is not None:
        assert abs(reps - label.reps) <= 1, row
    if label.hold_seconds is not None:
        assert abs(hold - label.hold_seconds) <= 1.5, row


def test_a_fast_clip_at_10_frames_a_second_counts_as_at_full_rate(clips_dir, clip_labels):
    # Three lunges in 6 s: at 10 frames/s BlazePose's filters must run on the frames' own clock (on MediaPipe's
    # 30 frame/s clock they smoothed one lunge away: 2 of 3).
    clip = "rnhrn__exercises/lunges.mp4"
    counts = []
    for fps in ([], ["--fps", "10"]):
        proc = subprocess.run([sys.executable, "-m", "launcher.cli", "analyze", "--json", "--no-progress",
                               "--exercise", "lunge", *fps, str(clips_dir / clip)],
                              capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
        row = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
        counts.append(row["totals"].get("lunge", {}).get("reps", 0))
    assert counts == [clip_labels[clip].reps] * 2, counts
