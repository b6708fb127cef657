"""`fitness-trainer soak`, briefly: a real clip replayed live while faults are injected; the report holds up."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from common.config import PROJECT_ROOT


@pytest.mark.e2e
def test_a_short_soak_reports_counts_restarts_and_memory(clips_dir):
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "soak", "--minutes", "0.4", "--fault-every", "4",
                           "--seed", "11", "--json", "--clip", str(clips_dir / "PushUp-Counter/pushup2.mp4")],
                          cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["reference"]["reps"] == 4   # the offline pass of the clip
    assert result["counts"]["sessions"] >= 2 and sum(result["faults"].values()) >= 4, result["fault_log"]
    assert result["invented_services_in_report"] == []
    assert result["sessions_left_open_after_stop"] == []   # the clean stop closed every replay's session
    assert {label.rsplit("-", 1)[0] for label in result["memory_mb"]} >= {
        "broker", "pose", "classifier", "coach", "speech", "ui", "capture"}
    if "stranger_heartbeats" in result["faults"]:
        assert sum(result["heartbeats_ignored"].values()) >= 1000
    if "bad_frames" in result["faults"]:
        assert sum(result["bad_frame_answers"].values()) >= 1 and result["bad_frame_answers"]["pose"] == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("soak: ") and any("counts vs offline" in line for line in lines)
