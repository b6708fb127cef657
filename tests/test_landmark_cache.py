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
