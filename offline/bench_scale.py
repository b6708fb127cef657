"""`bench` sections of issue #12: the ceiling of one broker, classifier and coach, and a class on one laptop."""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from common.config import Settings

logger = logging.getLogger(__name__)

# Frames/s one instance must carry (about 100 live trainees' worth of routing for the broker).
CEILING_GOALS = {"broker": 3000.0, "classifier": 1500.0, "coach": 1500.0}
GOAL_CLASS_SIZE = "4"


def bench_ceiling(clip: Path, settings: Settings, log_dir: str | None) -> dict:
    """Each of broker, classifier and coach alone, fed as fast as it takes frames; then all of them together with
    stand-in pose workers. Figures: frames/s carried here, CPU ms per frame of every process, frames per CPU
    second of the service (what a free core would carry)."""
    from common.messages import Classification
    from offline import bench_ceiling as ceiling
    from offline import bench_stages as st
    from offline.landmark_cache import extract
    from services.capture.frames import prepare
    from services.classifier.cascade import Cascade
    from services.classifier.processor import ClassifierProcessor
    from services.classifier.session import SessionClassifier

    jpeg, width, height = prepare(next(st.iter_frames(str(clip), 1)), settings.max_side, settings.jpeg_quality)
    poses = st.pose_messages(extract(clip), "ceiling")
    classify = ClassifierProcessor(partial(SessionClassifier, Cascade.load(settings.models_dir)))
    classified = [m for p in poses for m in classify.process(p, p.ts_capture) if isinstance(m, Classification)]
    runs = {}
    logger.info("ceiling: broker with stand-in workers ...")
    runs["broker"] = ceiling.broker_ceiling(jpeg, width, height, log_dir=log_dir)
    logger.info("ceiling: classifier ...")
    runs["classifier"] = ceiling.classifier_ceiling(poses, window=64, log_dir=log_dir)
    logger.info("ceiling: coach ...")
    runs["coach"] = ceiling.coach_ceiling(classified, window=64, log_dir=log_dir)
    logger.info("ceiling: the whole pipeline with stand-in workers ...")
    runs["pipeline"] = ceiling.pipeline_ceiling(jpeg, width, height, log_dir=log_dir)
    return ceiling_summary(runs)


def ceiling_summary(runs: dict) -> dict:
    """The issue's keys from the runs: frames_per_s and cpu_ms_per_frame of each service under test."""
    out = {"frames_per_s": {}, "cpu_ms_per_frame": {}, "frames_per_cpu_second": {}, "runs": runs}
    for service in ("broker", "classifier", "coach"):
        run = runs.get(service) or {}
        out["frames_per_s"][service] = run.get("frames_per_s")
        out["cpu_ms_per_frame"][service] = _own(run.get("cpu_ms_per_frame") or {}, service)
        out["frames_per_cpu_second"][service] = run.get("frames_per_cpu_second")
    pipeline = runs.get("pipeline") or {}
    if pipeline:
        per = pipeline.get("cpu_ms_per_frame") or {}
        out["pipeline"] = {"frames_per_s": pipeline.get("frames_per_s"),
                           "cpu_ms_per_frame": {s: _own(per, s) for s in
                                                ("broker", "pose", "classifier", "coach", "relay", "bench")}}
    return out


def _own(per_label: dict[str, float], service: str) -> float | None:
    """CPU ms per frame of a service's processes added up ('pose-1' + 'pose-2')."""
    values = [ms for label, ms in per_label.items() if label.rsplit("-", 1)[0] == service]
    return round(sum(values), 4) if values else None


def bench_class(data_dir: Path, settings: Settings, log_dir: str | None, sizes=None, pose_workers: int = 2) -> dict:
    """1, 2, 4 and 8 live trainees through 2 pose workers; their counts against the same clips offline."""
    from offline.bench_class import CLIPS, SIZES, class_runs, offline_counts, read_clip
    sizes = tuple(sizes or SIZES)
    paths = [data_dir / "clips" / name for name in CLIPS[:max(sizes)]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return {"error": f"clips not found: {', '.join(missing)}"}
    logger.info("class: the clips analysed offline (the reference counts) ...")
    offline = offline_counts([str(p) for p in paths], pose_workers)
    clips = [read_clip(p, settings.max_side, settings.jpeg_quality) for p in paths]
    logger.info("class: %s trainees live ...", ", ".join(map(str, sizes)))
    result = class_runs(clips, sizes, pose_workers=pose_workers, log_dir=log_dir, offline=offline)
    result["offline"] = {str(p): (s or {}).get("totals") for p, s in offline.items()}
    return result


def check_scale_goals(result: dict) -> dict[str, bool | None]:
    ceiling = (result.get("ceiling") or {}).get("frames_per_s") or {}
    goals: dict[str, bool | None] = {}
    for service, goal in CEILING_GOALS.items():
        fps = ceiling.get(service)
        goals[f"ceiling: one {service} >= {goal:,.0f} frames/s"] = None if fps is None else fps >= goal
    run = ((result.get("class") or {}).get("sessions") or {}).get(GOAL_CLASS_SIZE) or {}
    for name, ok in (run.get("goals") or {}).items():
        goals[f"class of {GOAL_CLASS_SIZE}: {name}"] = ok
    if not run:
        goals[f"class of {GOAL_CLASS_SIZE}: measured"] = None
    return goals


def scale_report_lines(result: dict) -> list[str]:
    lines = []
    ceiling = result.get("ceiling") or {}
    if "error" in ceiling:
        lines.append(f"ceiling: not measured: {ceiling['error']}")
    elif ceiling:
        fps, cpu, per_core = (ceiling.get(k) or {} for k in ("frames_per_s", "cpu_ms_per_frame",
                                                             "frames_per_cpu_second"))
        lines.append("ceiling (one instance fed as fast as it takes frames, on this machine): " + ", ".join(
            f"{s} {_num(fps.get(s))} frames/s ({_num(cpu.get(s), 3)} ms CPU a frame, {_num(per_core.get(s))} a "
            f"core)" for s in ("broker", "classifier", "coach")))
        pipeline = ceiling.get("pipeline") or {}
        if pipeline:
            lines.append(f"  whole pipeline with stand-in workers: {_num(pipeline.get('frames_per_s'))} frames/s; "
                         "CPU ms a frame: " + ", ".join(f"{s} {_num(v, 3)}" for s, v in
                                                       pipeline["cpu_ms_per_frame"].items()))
    klass = result.get("class") or {}
    if "error" in klass:
        lines.append(f"class: not measured: {klass['error']}")
    for n, run in (klass.get("sessions") or {}).items():
        counts = run.get("counts_vs_offline") or {}
        diffs = [c.get("diff") for c in counts.values()]
        lat = run.get("latency_ms") or {}
        lines.append(f"class of {n} at {klass.get('fps_offered_per_trainee', 30):.0f} frames/s each, "
                     f"{klass.get('pose_workers')} pose workers: frames/s "
                     + " / ".join(_num(v) for v in (run.get("fps") or {}).values())
                     + f" (spread ±{_num((run.get('share_spread') or 0) * 100)} %), latency p50 {_num(lat.get('p50'))}"
                     f" / p95 {_num(lat.get('p95'))} ms, counts vs offline {diffs}; others' CPU "
                     f"{_num(run.get('other_cpu_percent'), 0)} %")
    return lines


def _num(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"
