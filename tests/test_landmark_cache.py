"""The landmark cache finds a clip by its content: a fresh copy of the data reuses it, a changed clip does not."""
import os

from offline.landmark_cache import _key


def test_a_copied_clip_keeps_its_cache_entry_and_a_changed_one_does_not(tmp_path):
    clip = tmp_path / "squat.mp4"
    clip.write_bytes(b"frame" * 2000)
    copy = tmp_path / "copied" / "squat.mp4"
    copy.parent.mkdir()
    copy.write_bytes(clip.read_bytes())
    os.utime(copy, (1_000_000, 1_000_000))                       # copied later: another mtime
    assert _key(copy, 640, 80) == _key(clip, 640, 80)
    assert _key(clip, 320, 80) != _key(clip, 640, 80)            # other frame settings, other poses
    other = tmp_path / "other.mp4"
    other.write_bytes(b"frame" * 1999 + b"framf")                # same size, one byte differs
    assert _key(other, 640, 80) != _key(clip, 640, 80)
    clip.write_bytes(b"FRAME" * 2000)                            # rewritten in place
    os.utime(clip, (2_000_000, 2_000_000))
    assert _key(clip, 640, 80) != _key(copy, 640, 80)


def test_a_slower_camera_is_extracted_from_the_frames_capture_would_send(clips_dir, tmp_path):
    """`max_fps` keeps the frames capture's --max-fps keeps (one per 1/max_fps of media time), stamps them with their
    media time, runs BlazePose on those only, and the cache gives back the same."""
    import numpy as np
    import pytest

    from offline.landmark_cache import extract
    clip = clips_dir / "WorkoutTracker" / "push-up_1.mp4"          # 5 s at 29.97 frames/s
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    slow = extract(clip, max_fps=10.0, cache_dir=tmp_path)
    full_rate = 29.97
    kept = [i / full_rate for i in range(150) if i == 0 or int(i / full_rate * 10 + 1e-6)
            != int((i - 1) / full_rate * 10 + 1e-6)]
    assert np.allclose(slow.times, kept[:len(slow.times)]) and len(slow.times) in (len(kept) - 1, len(kept))
    assert slow.fps == 10.0 and len(slow.landmarks) == len(slow.times) and slow.has_pose.mean() > 0.9
    again = extract(clip, max_fps=10.0, cache_dir=tmp_path)
    assert np.array_equal(again.times, slow.times) and np.array_equal(again.landmarks, slow.landmarks, equal_nan=True)
    assert len(list(tmp_path.glob("*.npz"))) == 1
