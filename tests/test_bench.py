"""The bench's pure helpers: percentiles, summaries, scaling efficiency, memory growth, goals, clip choice."""
import csv

import pytest

from offline.bench import (check_goals, default_clip, frames_per_cpu_second, memory_growth, percentile,
                           processed_ratio, report_lines, scaling_efficiency, service_of, summarize_ms, thin)
from offline.bench_stages import time_calls


def test_percentile_interpolates_and_handles_empty():
    values = [10, 20, 30, 40, 50]
    assert percentile(values, 50) == 30
    assert percentile(values, 0) == 10 and percentile(values, 100) == 50
    assert percentile(values, 95) == pytest.approx(48.0)   # 40 + 0.8 * 10
    assert percentile([], 50) is None


def test_summarize_ms():
    s = summarize_ms([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["n"] == 5 and s["p50"] == 3.0 and s["max"] == 100.0 and s["mean"] == 22.0
    assert s["p95"] > 4.0 and s["p99"] > s["p95"]
    assert summarize_ms([]) == {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}


def test_scaling_efficiency_is_fps_n_over_n_times_fps_1():
    eff = scaling_efficiency({"1": 40.0, "2": 72.0, "4": 120.0})
    assert eff == {"1": 1.0, "2": 0.9, "4": 0.75}
    assert scaling_efficiency({"2": 72.0}) == {}


def test_memory_growth_ignores_warm_up():
    samples = [(0, 50.0), (10, 180.0), (30, 200.0), (60, 201.0), (90, 199.0), (120, 203.5)]
    g = memory_growth(samples, warmup_s=30)
    assert g == {"after_warmup": 200.0, "last": 203.5, "peak": 203.5, "growth": 3.5}
    assert memory_growth(samples[:4], warmup_s=60) is None   # one sample after warm-up is no trend


def test_processed_ratio_and_service_names():
    assert processed_ratio(285, 300) == 0.95
    assert processed_ratio(0, 0) is None
    assert service_of("pose-2") == "pose" and service_of("broker-1") == "broker" and service_of("bench") == "bench"


def test_goals_and_report():
    result = {"date": "2026-11-25", "machine": {"cpu": "x", "cores": 2}, "clip": "c.mp4",
              "live": {"frames_processed_ratio": 0.97, "latency_ms": summarize_ms([30, 40, 70]), "seconds": 10,
                       "pose_workers": 2, "frames_captured": 300, "cpu_percent": {"pose-1": 50.0},
                       "rss_mb": {"pose-1": 200.0}},
              "offline": {"fps_by_workers": {"1": 40.0, "2": 76.0}, "scaling_efficiency": 0.95},
              "stages_ms": {"features_classify_coach": summarize_ms([0.4, 0.5])},
              "memory_mb": {"growth": 30.0, "growth_by_service": {"pose-1": 2.0, "coach-1": 28.0}, "seconds": 120,
                            "warmup_s": 30}}
    goals = check_goals(result)
    assert goals["frames_processed_ratio >= 95%"] is True
    assert goals["latency p95 <= 60 ms"] is False           # p95 of [30, 40, 70] is 67
    assert goals["scaling efficiency >= 90%"] is True
    assert goals["features+classify+coach <= 1 ms"] is True
    assert goals["memory flat (growth <= 10 MB per service)"] is False
    text = "\n".join(report_lines(result))
    assert "MISSED" in text and "coach-1 +28.0" in text
    assert all(v is None for v in check_goals({}).values())


def test_time_calls_uses_the_given_clock():
    ticks = iter([0.0, 0.002, 1.0, 1.005])
    assert time_calls(lambda: None, 2, clock=lambda: next(ticks)) == pytest.approx([2.0, 5.0])


def test_default_clip_falls_back_to_a_labelled_30fps_clip(tmp_path):
    clips = tmp_path / "clips"
    (clips / "a").mkdir(parents=True)
    (clips / "a" / "short.mp4").write_bytes(b"x")
    (clips / "a" / "long.mp4").write_bytes(b"x")
    with open(clips / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "duration_s", "fps"])
        w.writeheader()
        w.writerow({"file": "a/short.mp4", "duration_s": "5.0", "fps": "30"})
        w.writerow({"file": "a/missing.mp4", "duration_s": "20.0", "fps": "30"})
        w.writerow({"file": "a/long.mp4", "duration_s": "20.0", "fps": "29.97"})
    assert default_clip(tmp_path) == clips / "a" / "long.mp4"
    assert default_clip(tmp_path / "nowhere") is None


def test_frames_per_cpu_second_counts_only_pose_workers():
    cpu = {"bench": 2.0, "broker-1": 3.0, "pose-1": 90.0, "pose-2": 70.0}
    assert frames_per_cpu_second(80.0, cpu) == 50.0           # 80 frames/s on 1.6 cores of workers
    assert frames_per_cpu_second(80.0, {"broker-1": 3.0}) is None


def test_thin_keeps_ends_and_spacing():
    samples = [(float(t), 100.0 + t) for t in range(0, 120, 2)]   # 60 samples
    out = thin(samples, points=7)
    assert len(out) == 7 and out[0] == samples[0] and out[-1] == samples[-1]
    gaps = {round(b[0] - a[0]) for a, b in zip(out, out[1:])}
    assert gaps <= {18, 20}
    assert thin(samples[:5], points=7) == samples[:5]


def test_stage_goal_uses_cpu_time_when_measured():
    slow_wall = {"stages_ms": {"features_classify_coach": summarize_ms([1.6, 1.4]),
                               "features_classify_coach_cpu": summarize_ms([0.7, 0.9])}}
    assert check_goals(slow_wall)["features+classify+coach <= 1 ms"] is True
    slow_wall["stages_ms"]["features_classify_coach_cpu"] = summarize_ms([1.2, 1.3])
    assert check_goals(slow_wall)["features+classify+coach <= 1 ms"] is False


def test_main_refuses_a_missing_clip_clearly(tmp_path, capsys):
    from argparse import Namespace

    from offline.bench import main
    code = main(Namespace(json=True, long=False, clip=str(tmp_path / "nope.mp4"), max_workers=None))
    assert code == 2 and "clip not found" in capsys.readouterr().err


def test_report_names_a_live_run_that_could_not_happen():
    result = {"date": "d", "machine": {"cpu": "x", "cores": 2}, "clip": "c", "live": {"error": "no models"},
              "memory_mb": {"error": "no models"}}
    text = "\n".join(report_lines(result))
    assert "live: not measured: no models" in text
    assert check_goals(result)["latency p95 <= 60 ms"] is None


def test_browser_bench_figures_per_tab_and_averaged():
    from offline.bench_browser import average_tabs, check_goals, tab_figures
    before = {"now": 1000.0, "camera": 30, "sent": 28, "answered": 27, "dropped": 1, "latencies": [[900.0, 500.0]],
              "side": 640, "short_shown": False}
    after = {"now": 11000.0, "camera": 330, "sent": 308, "answered": 297, "dropped": 11,
             "latencies": [[900.0, 500.0]] + [[1000.0 + 10 * i, 40.0 + i % 20, 25.0] for i in range(1, 1000)],
             "side": 480, "short_shown": True}
    one = tab_figures(before, after, 10.0)
    assert one["fps_camera"] == 30.0 and one["fps_sent"] == 28.0 and one["fps_answered"] == 27.0
    assert one["latency_ms"]["n"] == 999 and 45 <= one["latency_ms"]["p50"] <= 55   # the one before the window left out
    assert one["frame_side_px_at_end"] == 480 and one["short_of_frames_shown"] is True
    assert one["server_ms"] == {"p50": 25.0, "p95": 25.0}
    other = dict(one, fps_answered=13.0, latency_ms={"p50": 100.0, "p95": 200.0, "n": 5}, short_of_frames_shown=False,
                 server_ms={"p50": 35.0, "p95": 45.0})
    avg = average_tabs([one, other])
    assert avg["fps_answered"] == 20.0 and avg["fps_answered_min_tab"] == 13.0 and avg["short_of_frames_shown"] == 1
    assert avg["latency_ms"]["p95"] == round((one["latency_ms"]["p95"] + 200.0) / 2, 2)
    assert avg["server_ms"] == {"p50": 30.0, "p95": 35.0}
    goals = check_goals({"tabs": {"1": {"fps_answered": 28.0, "latency_ms": {"p95": 120.0}}}})
    assert list(goals.values()) == [True, False]


def test_scale_figures_goals_and_report():
    from offline.bench_class import check_class_goals, count_vs_offline, share_spread
    from offline.bench_scale import ceiling_summary

    assert share_spread({"a": 20.0, "b": 22.0, "c": 18.0}) == 0.1
    assert share_spread({}) is None
    offline = {"totals": {"squat": {"reps": 8, "hold_seconds": 0.0}}}
    live = {"totals": {"squat": {"reps": 7, "hold_seconds": 0.0}, "lunge": {"reps": 1, "hold_seconds": 0.0}}}
    assert count_vs_offline(live, offline) == {"exercise": "squat", "offline": 8, "live": 7, "diff": -1,
                                               "live_exercise": "squat"}
    assert count_vs_offline(None, offline)["diff"] is None
    run = {"share_spread": 0.04, "latency_ms": {"p50": 60.0, "p95": 149.0},
           "counts_vs_offline": {"t0": {"diff": 0}, "t1": {"diff": -1}}}
    assert all(check_class_goals(run).values())
    assert check_class_goals({**run, "counts_vs_offline": {"t0": {"diff": 2}}})["every count within ±1 of offline"] \
        is False
    assert check_class_goals({**run, "share_spread": 0.2})["shares within ±10%"] is False
    runs = {"broker": {"frames_per_s": 3500.0, "cpu_ms_per_frame": {"broker-1": 0.2, "pose-1": 0.05},
                       "frames_per_cpu_second": 5000.0},
            "classifier": {"frames_per_s": 1400.0, "cpu_ms_per_frame": {"classifier-1": 0.45},
                           "frames_per_cpu_second": 2222.2},
            "coach": {"frames_per_s": 2000.0, "cpu_ms_per_frame": {"coach-1": 0.3}, "frames_per_cpu_second": 3333.3}}
    ceiling = ceiling_summary(runs)
    assert ceiling["frames_per_s"] == {"broker": 3500.0, "classifier": 1400.0, "coach": 2000.0}
    assert ceiling["cpu_ms_per_frame"] == {"broker": 0.2, "classifier": 0.45, "coach": 0.3}
    result = {"date": "d", "machine": {"cpu": "x", "cores": 2}, "clip": "c", "ceiling": ceiling,
              "class": {"sessions": {"4": {**run, "goals": check_class_goals(run), "fps": {"t0": 22.0, "t1": 23.0}}},
                        "pose_workers": 2, "fps_offered_per_trainee": 30.0}}
    goals = check_goals(result)
    assert goals["ceiling: one broker >= 3,000 frames/s"] is True
    assert goals["ceiling: one classifier >= 1,500 frames/s"] is False
    assert goals["class of 4: latency p95 <= 150 ms"] is True
    text = "\n".join(report_lines(result))
    assert "classifier 1,400.0 frames/s" in text and "class of 4" in text and "counts vs offline [0, -1]" in text


def test_cpu_ms_per_frame_adds_up_the_instances_of_a_service():
    from offline.bench import cpu_ms_per_frame
    assert cpu_ms_per_frame({"pose-1": 60.0, "pose-2": 40.0, "coach-1": 3.0}, 50.0) == {"pose": 20.0, "coach": 0.6}
    assert cpu_ms_per_frame({"pose-1": 60.0}, 0.0) == {"pose": None}


def test_an_unknown_section_is_refused_at_once():
    from argparse import Namespace

    from offline.bench import main
    with pytest.raises(SystemExit, match="unknown section"):
        main(Namespace(json=True, long=False, clip=None, max_workers=None, sections="stages,clas"))


def test_class_sizes_are_read_from_the_command_line_or_refused_at_once():
    from offline.bench import _class_sizes
    from offline.bench_class import SIZES
    assert _class_sizes(None) == SIZES and _class_sizes("8,10,12") == (8, 10, 12)
    for bad in ("8,ten", "0", "40", ","):
        with pytest.raises(SystemExit, match="--trainees takes class sizes"):
            _class_sizes(bad)
