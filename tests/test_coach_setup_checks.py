"""Setup checks: lighting, framing (feet, cut-off body), camera placement, and persistence before showing."""
from __future__ import annotations

from services.coach.body import Body
from services.coach.setup_checks import (TEXTS, SetupMonitor, SetupProblem, body_visible, check_camera,
                                         check_lighting, check_setup)
from tests.test_coach_poses import PUSH_UP_TOP, SQUAT_UP, front_pose, side_pose


def body(lm) -> Body:
    return Body.from_landmarks(lm, aspect=1.0)


def kinds(problems: list[SetupProblem]) -> list[str]:
    return [p.kind for p in problems]


def test_lighting():
    assert check_lighting(0.1, 0.05) == []
    assert kinds(check_lighting(0.95, 0.0)) == ["too_dark"]
    # A window behind the trainee: a blown-out background around a dark figure.
    assert kinds(check_lighting(0.25, 0.60)) == ["too_bright"]
    # A white studio or a dark gym is fine while the body is seen well.
    assert check_lighting(0.0, 0.97, body_seen=True) == []
    assert kinds(check_setup(None, "none", 0.95, 0.0)) == ["too_dark", "no_body"]
    assert check_setup(body(side_pose(**SQUAT_UP)), "squat", 0.95, 0.0) == []


def test_a_white_wall_or_a_title_card_is_not_light_behind_the_trainee():
    # A white studio wall with the trainee half out of the picture, and a white title card with no one on it:
    # as bright as a window, but no dark figure against it.
    assert check_lighting(0.01, 0.95) == []
    assert check_lighting(0.03, 0.97, body_seen=False) == []
    assert "too_bright" not in kinds(check_setup(None, "none", 0.02, 0.96))


def test_no_body_blocks_counting():
    problems = check_setup(None, "squat", 0.1, 0.1)
    assert kinds(problems) == ["no_body"] and problems[0].blocking
    assert not body_visible(None, "squat")


def test_feet_out_of_the_picture_asks_to_step_back():
    lm = side_pose(**SQUAT_UP, ankle=(0.5, 1.04))   # ankles just below the bottom edge
    problems = check_setup(body(lm), "squat", 0.1, 0.1)
    assert kinds(problems) == ["feet"] and problems[0].text == TEXTS["feet"]
    assert not problems[0].blocking and body_visible(body(lm), "squat")


def test_cut_off_body_blocks_counting():
    lm = side_pose(**SQUAT_UP, ankle=(0.5, 1.5))    # only the upper body is in the picture
    problems = check_setup(body(lm), "squat", 0.1, 0.1)
    assert "body_cut" in kinds(problems) and not body_visible(body(lm), "squat")


def test_camera_placement_advice():
    # Facing the camera for a push-up (side view wanted) -> advice; side-on push-up -> none.
    assert kinds(check_camera(body(front_pose()), "push_up")) == ["camera"]
    assert check_camera(body(side_pose(**PUSH_UP_TOP)), "push_up") == []
    # Jumping jacks want the front view: side-on gets advice, facing the camera is right.
    assert kinds(check_camera(body(side_pose(**SQUAT_UP)), "jumping_jack")) == ["camera"]
    assert check_camera(body(front_pose()), "jumping_jack") == []


def test_problems_show_only_after_they_persist():
    monitor = SetupMonitor(persist_s=1.5)
    dark = check_lighting(0.95, 0.0)
    assert monitor.update(0.0, dark) == [] and monitor.active == []
    assert monitor.update(1.0, dark) == []
    new = monitor.update(1.6, dark)
    assert kinds(new) == ["too_dark"] and kinds(monitor.active) == ["too_dark"]
    assert monitor.update(2.0, dark) == []            # said once, still shown
    assert monitor.update(2.1, []) == [] and monitor.active == []
