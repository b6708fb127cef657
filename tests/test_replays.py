"""The training replays (offline/replays.py) on synthetic poses: the geometry each promises, and nothing else moved."""
import numpy as np
import pytest

from common.exercises import NONE
from offline.labels import OTHER, ClipLabel
from offline.train_window import clip_windows
from tests.test_phase_labels import ASPECT


def test_an_inclined_push_up_replay_turns_the_head_up_and_keeps_the_arms():
    """Incline and wall push-ups are taught as floor push-ups turned head-up; a body not lying across the
    picture is not turned."""
    from common.rep_signals import measure_all
    from offline.clip_stream import Clip
    from offline.replays import incline
    from tests.test_phase_labels import side_pose

    def clip(poses):
        lm = np.array(poses, np.float32)
        n = len(lm)
        return Clip(ClipLabel("push_up/x.mp4", "push_up", 1, None, "y", 1.0, ""), ASPECT, 1280, 720, 30.0,
                    np.arange(n) / 30.0, lm, np.zeros(n), np.zeros(n))

    rng = np.random.default_rng(0)
    for roll in (-90.0, 90.0):                                  # lying with the head to the right, to the left
        poses = [side_pose(torso=180, arms=(a, a), forearms=(0.0, 0.0), roll=roll) for a in (0.0, 30.0, 60.0)]
        before = [measure_all(p, ASPECT) for p in poses]
        for _ in range(5):
            turned = incline(clip(poses), 10.0, 70.0, rng)
            after = [measure_all(p, ASPECT) for p in turned.landmarks]
            for p, b, a in zip(turned.landmarks, before, after):
                assert p[[11, 12], 1].mean() < p[[23, 24], 1].mean()       # shoulders above the hips
                assert b["trunk_rise"] < 5.0 and 10.0 - 1 <= a["trunk_rise"] <= 70.0 + 1
                assert a["elbow_angle"] == pytest.approx(b["elbow_angle"], abs=0.5)
    assert incline(clip([side_pose(torso=180)] * 3), 10.0, 70.0, rng) is None      # standing


def pose_clip(poses, exercise: str = "squat"):
    from offline.clip_stream import Clip
    lm = np.array(poses, np.float32)
    n = len(lm)
    return Clip(ClipLabel(f"{exercise}/x.mp4", exercise, 1, None, "y", 1.0, ""), ASPECT, 1280, 720, 30.0,
                np.arange(n) / 30.0, lm, np.zeros(n), np.zeros(n))


class Rng:
    """The turn's direction fixed, the rest drawn."""
    def __init__(self, sign):
        self.sign, self.rng = sign, np.random.default_rng(0)

    def uniform(self, low, high):
        return self.rng.uniform(low, high)

    def choice(self, options):
        return self.sign


def test_a_side_view_replay_seen_from_another_direction_gets_the_body_width_back(monkeypatch):
    """Trainees film from anywhere: a side-view clip is replayed seen from another direction (the width a side
    view loses is put back); what lies behind nearer parts of the body is hidden; a clip not filmed from the side
    is not turned."""
    from offline import replays
    from tests.test_phase_labels import front_pose, side_pose
    clip = pose_clip
    monkeypatch.setattr(replays, "TURN_DEG", (90.0, 90.0))
    monkeypatch.setattr(replays, "CAMERA_PITCH_DEG", (0.0, 0.0))
    standing = clip([side_pose(torso=180, thighs=(t, t), shins=(-t, -t)) for t in (0.0, 40.0, 80.0)])
    for sign in (-1.0, 1.0):
        front = replays.turned(standing, Rng(sign))
        for before, after in zip(standing.landmarks, front.landmarks):
            torso = abs(before[[11, 12], 1].mean() - before[[23, 24], 1].mean())
            width = abs(after[11, 0] - after[12, 0]) * ASPECT
            assert abs(before[11, 0] - before[12, 0]) * ASPECT < 0.2 * torso < 0.6 * torso < width < 0.95 * torso
            assert after[0, 1] < after[[11, 12], 1].mean() < after[[23, 24], 1].mean() < after[[27, 28], 1].mean()
        assert (front.landmarks[0, :, 3] == standing.landmarks[0, :, 3]).all()   # upright seen from the front: all seen
        assert replays.turned(front, Rng(sign)) is None   # now a front view: nothing to put back
    assert replays.turned(clip([front_pose()] * 3), Rng(1.0)) is None
    from offline.view_out import width_over_torso      # what view_out leaves out: every clip not filmed from the side
    assert width_over_torso(standing) < replays.SIDE_VIEW < width_over_torso(front)
    assert width_over_torso(clip([front_pose()] * 3)) > replays.SIDE_VIEW

    lying = clip([side_pose(torso=180, arms=(0.0, 0.0), roll=-90.0)] * 3)   # push-up top, head to the right
    head_on = replays.turned(lying, Rng(1.0))                          # the camera at the head's end
    for before, after in zip(lying.landmarks, head_on.landmarks):
        assert (after[[27, 28], 3] < 0.5 * before[[27, 28], 3]).all()     # the feet behind the shoulders
        assert (after[[0, 11, 12], 3] == before[[0, 11, 12], 3]).all()


def test_a_front_view_of_jumping_jacks_is_replayed_from_the_side_with_the_arms_still_swinging(monkeypatch):
    """Jumping jacks swing in the plane a front view sees whole: a front-view clip of jacks is replayed from the
    side (the shoulders in line, the far arm hidden behind the body) and its arms still swing from hanging down to
    overhead. A front view of a squat (it moves in depth, which the front view lost) and a side view of jacks are
    not turned."""
    from common.rep_signals import measure_all
    from offline import replays
    from tests.test_phase_labels import front_pose, side_pose
    monkeypatch.setattr(replays, "TURN_DEG", (90.0, 90.0))
    monkeypatch.setattr(replays, "CAMERA_PITCH_DEG", (0.0, 0.0))
    jacks = pose_clip([front_pose(arms=a, legs=g) for a, g in ((10.0, 3.0), (90.0, 12.0), (170.0, 20.0))],
                       "jumping_jack")
    for sign in (-1.0, 1.0):
        side = replays.turned(jacks, Rng(sign))
        elevation = []
        for before, after in zip(jacks.landmarks, side.landmarks):
            torso = abs(before[[11, 12], 1].mean() - before[[23, 24], 1].mean())
            assert abs(after[11, 0] - after[12, 0]) * ASPECT < 0.15 * torso < 0.6 * torso < \
                abs(before[11, 0] - before[12, 0]) * ASPECT
            assert after[0, 1] < after[[11, 12], 1].mean() < after[[23, 24], 1].mean() < after[[27, 28], 1].mean()
            far = 12 if sign > 0 else 11          # turned this way, the trainee's right (or left) goes behind
            near = 23 - far
            assert after[far, 3] < 0.5 * before[far, 3] and after[near, 3] == before[near, 3]
            elevation.append(measure_all(after, ASPECT)["arm_elevation"])
        assert elevation[0] < 30.0 and elevation[2] > 150.0
    assert replays.turned(pose_clip([front_pose()] * 3, "squat"), Rng(1.0)) is None
    assert replays.turned(pose_clip([side_pose(torso=180)] * 3, "jumping_jack"), Rng(1.0)) is None


def test_a_forearm_plank_is_replayed_on_straight_arms_with_the_hands_under_the_shoulders():
    """The clips' planks are on the forearms: each is replayed raised onto straight arms (the body turned up about
    the feet, the hands on the floor under the shoulders). A plank already on straight arms, or seen from the front,
    is not."""
    from common.rep_signals import measure_all
    from offline import replays
    from tests.test_phase_labels import front_pose, side_pose
    forearms = pose_clip([side_pose(torso=180, arms=(90.0, 90.0), forearms=(180.0, 180.0), roll=-90.0)] * 3,
                          "plank")
    raised = replays.straight_armed(forearms)
    for before, after in zip(forearms.landmarks, raised.landmarks):
        xy0, xy1 = before[:, :2] * [ASPECT, 1.0], after[:, :2] * [ASPECT, 1.0]
        forearm = np.linalg.norm(xy0[13] - xy0[15])
        assert abs((xy0[11, 1] - xy1[11, 1]) - forearm) < 0.2 * forearm          # the shoulders a forearm higher
        assert np.abs(xy1[[27, 28]] - xy0[[27, 28]]).max() < 0.05 * forearm     # the feet stay
        floor = xy0[[27, 28]].mean(0) - xy0[[13, 14]].mean(0)                    # elbows and feet on the floor
        floor /= np.linalg.norm(floor)
        arm = xy1[15] - xy1[11]
        assert abs(arm @ floor) < 0.1 * forearm                                  # hands under the shoulders ...
        off_floor = xy1[15] - xy0[13]
        assert abs(off_floor[0] * floor[1] - off_floor[1] * floor[0]) < 0.1 * forearm   # ... on the floor
        assert measure_all(after, ASPECT)["elbow_angle"] > 170.0
        assert measure_all(before, ASPECT)["elbow_angle"] < 100.0
    straight = pose_clip([side_pose(torso=180, arms=(90.0, 90.0), forearms=(90.0, 90.0), roll=-90.0)] * 3, "plank")
    assert replays.straight_armed(straight) is None
    assert replays.straight_armed(pose_clip([front_pose()] * 3, "plank")) is None


class Draw:
    """A random generator whose draws are all `value`."""
    def __init__(self, value):
        self.value = value

    def uniform(self, low, high):
        return self.value


def test_a_crunch_is_replayed_with_straighter_legs_and_the_same_rep_signals():
    """The crunch clips mostly bend the knees to 30-70 deg: each is replayed with the knees opened (the shins turned
    about the knees), as in full sit-ups or sit-ups on a decline bench. Only the shins and feet move; the crunch's
    rep signals and the shins' lengths do not; no knee opens past OPEN_KNEE_MAX."""
    from common.rep_signals import measure_all
    from offline import replays
    from tests.test_phase_labels import side_pose
    poses = [side_pose(torso=t, thighs=(k, k), shins=(0.0, 0.0), arms=(150.0, 150.0), roll=-90.0)
             for t, k in ((150.0, 135.0), (110.0, 135.0), (150.0, 70.0))]        # knees at 45, 45 and 110 deg
    clip = pose_clip(poses, "crunch")
    opened = replays.knees_opened(clip, Draw(60.0))
    for before, after in zip(clip.landmarks, opened.landmarks):
        b, a = measure_all(before, ASPECT), measure_all(after, ASPECT)
        assert a["knee_angle"] == pytest.approx(min(b["knee_angle"] + 60.0, replays.OPEN_KNEE_MAX), abs=0.5)
        for name in ("trunk_bend", "head_curl"):
            assert a[name] == pytest.approx(b[name], abs=1e-3)
        assert np.abs(after[:27] - before[:27]).max() < 1e-6                   # all but the shins and feet stay
        xy0, xy1 = before[:, :2] * [ASPECT, 1.0], after[:, :2] * [ASPECT, 1.0]
        for joint, end in ((25, 27), (27, 31), (26, 28), (28, 32)):             # knee-ankle, ankle-toes
            length = np.linalg.norm(xy0[end] - xy0[joint])
            assert np.linalg.norm(xy1[end] - xy1[joint]) == pytest.approx(length, rel=1e-4)
    assert measure_all(opened.landmarks[2], ASPECT)["knee_angle"] == pytest.approx(replays.OPEN_KNEE_MAX,
                                                                                  abs=0.5)


def test_a_crunch_is_replayed_as_leg_raises_that_are_none():
    """Leg raises swing the crunch's hip angle with the upper body still: each crunch clip is replayed as one, the
    trainee lying as at the clip's lowest point and the legs, nearly straight, rising and falling about the hips.
    Its windows are "none"."""
    from common.rep_signals import measure_all
    from offline import replays
    from tests.test_phase_labels import side_pose
    # Lying on the back, head to the left, knees up; curling up and back over 3 s.
    curl = 30.0 * np.sin(np.linspace(0, np.pi, 90)) ** 2
    clip = pose_clip([side_pose(torso=270.0 - c, thighs=(135.0, 135.0), shins=(0.0, 0.0), x=0.6, floor=0.7)
                       for c in curl], "crunch")
    raised = replays.leg_raises(clip, np.random.default_rng(3))
    assert raised.exercise == OTHER
    lowest = int(np.argmin(curl))
    assert np.abs(raised.landmarks[:, :25] - clip.landmarks[lowest, :25]).max() < 1e-6     # the upper body lies still
    xy = raised.landmarks[..., :2] * [ASPECT, 1.0]
    body = xy[0, [11, 12]].mean(0) - xy[0, [23, 24]].mean(0)                                # hips -> shoulders
    lifts = []
    for frame, landmarks in zip(xy, raised.landmarks):
        thigh = frame[25] - frame[23]
        cosine = -(thigh @ body) / np.linalg.norm(thigh) / np.linalg.norm(body)
        lifts.append(np.degrees(np.arccos(np.clip(cosine, -1, 1))))
        assert frame[25, 1] <= frame[23, 1] + 1e-6                                         # the knee rises, not sinks
        assert measure_all(landmarks, ASPECT)["knee_angle"] >= 180.0 - replays.LEG_RAISE_KNEE_BEND[1] - 1
        for joint, end in ((23, 25), (25, 27)):                                            # thigh, shin lengths
            length = np.linalg.norm(np.diff(clip.landmarks[lowest, [joint, end], :2] * [ASPECT, 1.0], axis=0))
            assert np.linalg.norm(frame[end] - frame[joint]) == pytest.approx(length, rel=1e-3)
    low, high = replays.LEG_RAISE_DEG
    assert min(lifts) < 1.0 and low - 1 <= max(lifts) <= high + 1                          # down, then up
    _, labels = clip_windows(raised)
    assert labels and set(labels) == {NONE}
