"""Extract BlazePose landmarks of whole clips once, exactly as the live pipeline sees them, into .npz files."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.config import PROJECT_ROOT, Settings
from services.capture.frames import prepare, rate_slot
from services.capture.sources import SourceError, open_video
from services.pose.estimator import PoseEstimator, decode_jpeg, lighting


DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "landmarks"
CACHE_VERSION = 3   # 2: the person probing of live pose workers (Settings.person_probe_frames); 3: frame times


@dataclass
class ClipPoses:
    """Per-frame poses of one clip; landmarks are NaN on frames without a person."""

    path: str
    fps: float
    width: int
    height: int
    landmarks: np.ndarray      # float32 [N, 33, 4]
    dark_share: np.ndarray     # float32 [N]
    bright_share: np.ndarray   # float32 [N]
    t: np.ndarray | None = None   # [N] media seconds of the frames; None: every frame, i / fps

    @property
    def times(self) -> np.ndarray:
        return self.t if self.t is not None else np.arange(len(self.landmarks)) / self.fps

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)

    @property
    def has_pose(self) -> np.ndarray:
        return ~np.isnan(self.landmarks[:, 0, 0])


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    """SHA-256 of the file's bytes (remembered per path, size and mtime within a process)."""
    stat = path.stat()
    known = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if known not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[known] = h.hexdigest()
    return _DIGESTS[known]


def _key(path: Path, max_side: int, quality: int, max_fps: float = 0.0) -> str:
    """The cache entry of a clip: its content and the frame settings, not where it lies or when it was copied (a
    fresh copy of the data would otherwise run BlazePose again, which is not bit-for-bit repeatable)."""
    raw = f"{_digest(path)}|{max_side}|{quality}|v{CACHE_VERSION}" + (f"|fps{max_fps:g}" if max_fps else "")
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def extract(path: str | Path, max_side: int = 640, quality: int = 80, estimator: PoseEstimator | None = None,
            cache_dir: Path | None = DEFAULT_CACHE, max_fps: float = 0.0) -> ClipPoses:
    """Poses of every frame of a clip (cached by file content and frame settings). With `max_fps`, of the frames a
    slower camera would have sent, thinned as capture's `--max-fps` thins them: BlazePose tracks at that rate, as it
    does live, which a full-rate extraction resampled afterwards does not show."""
    path = Path(path)
    cache_file = cache_dir / f"{path.stem}-{_key(path, max_side, quality, max_fps)}.npz" if cache_dir else None
    if cache_file is not None and cache_file.exists():
        z = np.load(cache_file)
        return ClipPoses(str(path), float(z["fps"]), int(z["width"]), int(z["height"]), z["landmarks"],
                         z["dark_share"], z["bright_share"], z["t"] if "t" in z.files else None)
    try:
        cap, fps, _ = open_video(path)   # upright whatever the rotation flag, as capture reads it
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    own = estimator is None
    # Exactly what a live pose worker produces, person probing included (the trainee moving, not a bystander).
    estimator = estimator or PoseEstimator(max_sessions=1, probe_frames=Settings.from_env().person_probe_frames)
    session = f"cache:{path}"
    marks, dark, bright, times = [], [], [], []
    width = height = 0
    index, last_slot = -1, None
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            index += 1
            media_t = index / fps
            if max_fps:
                slot = int(rate_slot(media_t, max_fps))     # as capture's --max-fps thins
                if slot == last_slot:
                    continue
                last_slot = slot
            jpeg, width, height = prepare(image, max_side, quality)
            frame = decode_jpeg(jpeg)  # the worker sees the JPEG, not the raw frame
            # at the frame's media time, as capture stamps it (BlazePose's filters run on that clock)
            lm, _ = estimator.estimate(session, frame, media_t)
            times.append(media_t)
            marks.append(lm if lm is not None else np.full((33, 4), np.nan, np.float32))
            d, b = lighting(frame)
            dark.append(d)
            bright.append(b)
    finally:
        cap.release()
        estimator.end_session(session)
        if own:
            estimator.close()
    result = ClipPoses(str(path), float(min(fps, max_fps) if max_fps else fps), width, height,
                       np.array(marks, np.float32).reshape(-1, 33, 4), np.array(dark, np.float32),
                       np.array(bright, np.float32), np.array(times, np.float64) if max_fps else None)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        extra = {"t": result.t} if result.t is not None else {}
        np.savez_compressed(cache_file, fps=result.fps, width=width, height=height, landmarks=result.landmarks,
                            dark_share=result.dark_share, bright_share=result.bright_share, **extra)
    return result


def _warm(path: str) -> str:
    clip = extract(path)
    return f"{path}: {len(clip.landmarks)} frames, {clip.has_pose.mean():.0%} with a pose"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import csv
    from multiprocessing import Pool
    parser = argparse.ArgumentParser(prog="python -m offline.landmark_cache",
                                     description="Warm the BlazePose landmark cache (.cache/landmarks) of clips.")
    parser.add_argument("clips", nargs="*", help="Video files")
    parser.add_argument("--all", action="store_true", help="Every clip of ../shared/data/clips/labels.csv")
    parser.add_argument("--jobs", type=int, default=2, help="Parallel processes (default 2)")
    args = parser.parse_args(argv)
    clips = list(args.clips)
    if args.all:
        labels = Path(Settings.from_env().data_dir) / "clips" / "labels.csv"
        if not labels.is_file():
            print(f"no labelled clips at {labels}; nothing to warm")
            return 0
        with open(labels, newline="") as fh:
            names = dict.fromkeys(row["file"] for row in csv.DictReader(fh))
        clips += [str(labels.parent / name) for name in names if (labels.parent / name).is_file()]
    with Pool(max(1, args.jobs)) as pool:
        for line in pool.imap_unordered(_warm, clips):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
