"""`fitness-trainer bench --browser`: real Chromium tabs with a real clip as their camera, through the whole system.

For 1, 2 and 4 tabs at once: camera frames per second sent and answered, and camera -> skeleton latency (from the
page grabbing a camera frame to the skeleton drawn on that frame), per tab and averaged over the tabs. The pages
measure themselves (window.__ftStats, kept by static/streamer.js); the system is `fitness-trainer up` on private
ports, started once. Chromium runs on the same machine as the trainer, so its encoding and decoding share the cores.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from offline import local_system

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 # Several tabs stream at once: none may be throttled as a background tab.
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
# Chromium's file-backed fake camera plays an MJPEG file at 30 frames a second, looping.
FAKE_CAMERA_FPS = 30.0
TAB_COUNTS = (1, 2, 4)
GOALS = {"fps_answered_1_tab": 27.0, "latency_p95_ms_1_tab": 100.0}
WARMUP_S = 6.0       # tabs start, trackers lock on, the page settles its frame size


def write_fake_camera(clip: Path, out: Path, max_side: int = 640, fps: float = FAKE_CAMERA_FPS,
                      lead_in_s: float = 3.0) -> int:
    """The clip as concatenated JPEG frames (Chromium's fake camera file), resampled to `fps` so its reps keep their
    real tempo. The first frame is held for `lead_in_s` first, like a trainee who presses Start and then gets ready.
    """
    import cv2
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise ValueError(f"cannot open {clip}")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        h, w = image.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        if scale < 1.0:
            # Even sizes: the fake device hands frames on as I420, which halves both sides.
            size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    if not frames:
        raise ValueError(f"no frames in {clip}")
    lead_in = int(lead_in_s * fps)
    count = int(len(frames) / src_fps * fps)
    with out.open("wb") as f:
        for _ in range(lead_in):
            f.write(frames[0])
        for k in range(count):
            f.write(frames[min(len(frames) - 1, int(k * src_fps / fps))])
    return lead_in + count


def tab_figures(before: dict, after: dict, seconds: float) -> dict:
    """One tab's rates over a measured window, from two snapshots of its window.__ftStats."""
    inside = [entry for entry in after["latencies"] if before["now"] < entry[0] <= after["now"]]
    window = [entry[1] for entry in inside]
    # The UI's share: from the frame reaching the UI to its pose coming back (the rest is the browser and the link).
    server = [entry[2] for entry in inside if len(entry) > 2 and entry[2] is not None]
    rate = (lambda key: round((after[key] - before[key]) / seconds, 2)) if seconds > 0 else (lambda key: 0.0)
    return {"fps_camera": rate("camera"), "fps_sent": rate("sent"), "fps_answered": rate("answered"),
            "dropped_per_s": rate("dropped"),
            "latency_ms": {"p50": _pct(window, 50), "p95": _pct(window, 95), "n": len(window)},
            "server_ms": {"p50": _pct(server, 50), "p95": _pct(server, 95)},
            "frame_side_px_at_end": after["side"], "short_of_frames_shown": after["short_shown"]}


def _pct(values, q) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def average_tabs(per_tab: list[dict]) -> dict:
    """Per-tab figures averaged over the tabs (latency percentiles too: each tab's own, then the mean)."""
    def mean(key, sub=None):
        values = [(t[key][sub] if sub else t[key]) for t in per_tab]
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 2) if values else None
    return {"fps_camera": mean("fps_camera"), "fps_sent": mean("fps_sent"), "fps_answered": mean("fps_answered"),
            "latency_ms": {"p50": mean("latency_ms", "p50"), "p95": mean("latency_ms", "p95")},
            "server_ms": {"p50": mean("server_ms", "p50"), "p95": mean("server_ms", "p95")},
            "fps_answered_min_tab": min(t["fps_answered"] for t in per_tab),
            "fps_answered_max_tab": max(t["fps_answered"] for t in per_tab),
            "short_of_frames_shown": sum(1 for t in per_tab if t["short_of_frames_shown"]),
            "per_tab": per_tab}


SNAPSHOT_JS = """() => { const s = window.__ftStats; return s ? {
    now: performance.now(), camera: s.camera, sent: s.sent, answered: s.answered, dropped: s.dropped,
    latencies: s.latencies.slice(-3000), side: [640, 480, 360][s.level],
    short_shown: document.getElementById('frames-status').textContent.startsWith('Short of frames')} : null; }"""


def run_tabs(browser, url: str, tabs: int, seconds: float) -> dict:
    """`tabs` pages stream at once; each is measured over the same `seconds` after a warm-up."""
    contexts = [browser.new_context(viewport={"width": 1000, "height": 700}) for _ in range(tabs)]
    pages = [c.new_page() for c in contexts]
    try:
        for page in pages:
            page.goto(url + "/")
            page.evaluate("localStorage.setItem('ft-intro-seen', '1'); localStorage.setItem('ft-muted', '1')")
            page.wait_for_selector("#link-status.ok", timeout=30000)
        for page in pages:
            page.click("#start")
        for page in pages:
            page.wait_for_function("window.__ftStats && window.__ftStats.answered > 0", timeout=60000)
        time.sleep(WARMUP_S)
        before = [page.evaluate(SNAPSHOT_JS) for page in pages]
        time.sleep(seconds)
        # Short-of-frames is read where the page shows it, on each tab at the end of the window.
        after = [page.evaluate(SNAPSHOT_JS) for page in pages]
        per_tab = [tab_figures(b, a, (a["now"] - b["now"]) / 1000.0) for b, a in zip(before, after)]
        for page in pages:
            page.click("#stop")
        time.sleep(1.0)
        return average_tabs(per_tab)
    finally:
        for c in contexts:
            c.close()


def check_goals(result: dict) -> dict:
    one = (result.get("tabs") or {}).get("1") or {}
    fps, p95 = one.get("fps_answered"), (one.get("latency_ms") or {}).get("p95")
    return {f"1 tab: >= {GOALS['fps_answered_1_tab']:.0f} frames/s answered":
            None if fps is None else fps >= GOALS["fps_answered_1_tab"],
            f"1 tab: camera -> skeleton p95 <= {GOALS['latency_p95_ms_1_tab']:.0f} ms":
            None if p95 is None else p95 <= GOALS["latency_p95_ms_1_tab"]}


def report_lines(result: dict) -> list[str]:
    lines = [f"bench --browser, {result['date']}: {result['machine']['cores']} cores, load average "
             f"{result['load_avg_1m']['before']} before / {result['load_avg_1m']['after']} after (other work on the "
             f"machine counts in these figures), clip {result['clip']}, {result['seconds']:.0f} s measured per run"]
    for n, t in result["tabs"].items():
        lat = t["latency_ms"]
        lines.append(f"  {n} tab(s): per tab {t['fps_sent']:.1f} frames/s sent, {t['fps_answered']:.1f} answered "
                     f"(of {t['fps_camera']:.1f} from the camera; tabs {t['fps_answered_min_tab']:.1f}.."
                     f"{t['fps_answered_max_tab']:.1f}), camera -> skeleton p50 {lat['p50']} ms, p95 {lat['p95']} ms "
                     f"(UI -> pose -> UI p50 {t['server_ms']['p50']} ms); "
                     f"'short of frames' shown on {t['short_of_frames_shown']} of {n}")
    for goal, ok in result["goals"].items():
        lines.append(f"  goal {goal}: {'met' if ok else 'MISSED' if ok is False else 'not measured'}")
    return lines


def run(clip: Path, tab_counts=TAB_COUNTS, seconds: float = 20.0, pose_workers: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from offline.bench import machine
    if not CHROMIUM.exists():
        raise SystemExit(f"fitness-trainer bench --browser needs Chromium at {CHROMIUM} (apt-get install chromium)")
    result: dict = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
                    "clip": str(clip), "seconds": seconds, "tabs": {},
                    "load_avg_1m": {"before": round(os.getloadavg()[0], 2)},
                    "note": "Chromium, its tabs and every service share this machine's cores; other processes "
                            "running meanwhile (load average) slow every figure"}
    with tempfile.TemporaryDirectory(prefix="ft-bench-browser-") as tmp:
        folder = Path(tmp)
        camera = folder / "camera.mjpeg"
        write_fake_camera(clip, camera)
        system = local_system.System(folder, pose_workers)
        manager = sync_playwright().start()
        try:
            system.wait_ready()
            browser = manager.chromium.launch(executable_path=str(CHROMIUM),
                                              args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"])
            for n in tab_counts:
                print(f"bench --browser: {n} tab(s) for {WARMUP_S + seconds:.0f} s ...", file=sys.stderr, flush=True)
                result["tabs"][str(n)] = run_tabs(browser, system.url, n, seconds)
            browser.close()
        finally:
            manager.stop()
            system.stop()
    result["load_avg_1m"]["after"] = round(os.getloadavg()[0], 2)
    result["goals"] = check_goals(result)
    return result


def main(args) -> int:
    from offline.bench import default_clip
    clip = Path(args.clip) if args.clip else default_clip()
    if clip is None or not clip.is_file():
        print("fitness-trainer bench --browser: no clip (pass --clip FILE, a video of someone exercising)",
              file=sys.stderr)
        return 2
    tabs = tuple(int(n) for n in (args.tabs or "1,2,4").split(","))
    result = {"browser": run(clip, tabs, float(args.seconds))}
    for line in report_lines(result["browser"]):
        print(line, flush=True)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0
