"""The UI's live state reduction: messages in, per-session views and page events out (no sockets, no clock)."""
import numpy as np

from common.messages import (Classification, CoachUpdate, Cue, EndOfStream, Frame, HealthReport, SessionSummary)
from services.ui.state import LiveState, coach_view, landmarks_for_page


def _landmarks(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lm = rng.uniform(0.1, 0.9, size=(33, 4)).astype(np.float32)
    lm[:, 3] = rng.uniform(0.5, 1.0, size=33)
    return lm


def names(events):
    return [e.name for e in events]


def test_first_frame_creates_a_session_with_its_source():
    state = LiveState()
    events = state.apply(Frame(session="file-a", seq=0, source="file:/v/squats.mp4", width=640, height=360,
                               jpeg=b"\xff\xd8\xff"), now=100.0)
    assert "session" in names(events)
    card = [e for e in events if e.name == "session"][-1].data
    assert card["source"] == "file:/v/squats.mp4"
    assert card["has_video"] is True and card["live"] is True
    assert state.get("file-a").frames == 1
    # The next frame changes nothing a list shows: no new session event.
    assert state.apply(Frame(session="file-a", seq=1, source="file:/v/squats.mp4", jpeg=b"x"), now=100.1) == []


def test_classification_becomes_a_pose_event_with_rounded_landmarks():
    state = LiveState()
    lm = _landmarks()
    events = state.apply(Classification(session="s", seq=5, width=640, height=480, landmarks=lm.tobytes(),
                                        exercise="squat", phase="end"), now=1.0)
    pose = [e for e in events if e.name == "pose"][0]
    assert pose.session == "s"
    assert pose.data["exercise"] == "squat" and pose.data["phase"] == "end"
    assert len(pose.data["lm"]) == 33 and len(pose.data["lm"][0]) == 3
    assert pose.data["lm"][11][0] == round(float(lm[11, 0]), 3)
    assert pose.data["lm"][11][2] == round(float(lm[11, 3]), 3)  # visibility, not z
    # A result older than one already shown is dropped.
    late = state.apply(Classification(session="s", seq=4, landmarks=lm.tobytes(), exercise="squat"), now=1.1)
    assert "pose" not in names(late)


def test_no_person_gives_an_empty_skeleton():
    assert landmarks_for_page(b"") == []
    assert landmarks_for_page(b"\x00" * 12) == []  # wrong size is not drawn
    nan = np.full((33, 4), np.nan, np.float32)
    assert landmarks_for_page(nan.tobytes()) == []


def test_coach_update_shows_the_count_of_the_current_exercise():
    state = LiveState()
    events = state.apply(CoachUpdate(session="s", exercise="squat", phase="end", reps={"squat": 3, "push_up": 1},
                                     set_number=1, reps_in_set=3, cues=["Keep your chest up"], form_score=81.6,
                                     body_visible=True), now=2.0)
    coach = [e for e in events if e.name == "coach"][0].data
    assert coach["count"] == 3 and coach["current"] == "squat" and coach["current_name"] == "Squats"
    assert coach["form_score"] == 82 and coach["cues"] == ["Keep your chest up"]
    assert coach["last_correction"] == "Keep your chest up"
    # Between reps the classifier may say "none": the count of the last exercise stays on screen.
    events = state.apply(CoachUpdate(session="s", exercise="none", reps={"squat": 3, "push_up": 1}), now=2.5)
    coach = [e for e in events if e.name == "coach"][0].data
    assert coach["exercise"] == "none" and coach["current"] == "squat" and coach["count"] == 3


def test_identical_coach_updates_are_not_repeated():
    state = LiveState()
    update = dict(session="s", exercise="squat", reps={"squat": 2}, body_visible=True)
    assert "coach" in names(state.apply(CoachUpdate(**update), now=1.0))
    assert "coach" not in names(state.apply(CoachUpdate(**update), now=1.1))
    assert "coach" in names(state.apply(CoachUpdate(**{**update, "reps": {"squat": 3}}), now=1.2))
    # An event (a rep, a set end) is always passed on, even if the numbers look the same.
    assert "coach" in names(state.apply(CoachUpdate(**{**update, "reps": {"squat": 3}, "events": ["set_end"]}), now=1.3))


def test_plank_shows_a_timer_not_a_count():
    state = LiveState()
    events = state.apply(CoachUpdate(session="p", exercise="plank", hold_seconds={"plank": 12.34}, holding=True),
                         now=1.0)
    coach = [e for e in events if e.name == "coach"][0].data
    assert coach["is_hold"] is True and coach["hold_s"] == 12.3 and coach["count"] == 0 and coach["holding"]
    assert "Side view" in coach["advice"]


def test_cue_summary_and_end():
    state = LiveState()
    state.apply(Frame(session="s", source="browser", jpeg=b"x"), now=1.0)
    cue = state.apply(Cue(session="s", text="Go lower", kind="form"), now=1.5)
    assert cue[0].name == "cue" and cue[0].data["text"] == "Go lower"
    state.apply(EndOfStream(session="s", seq=10, reason="stopped", frames=10), now=2.0)
    assert state.get("s").end_reason == "stopped" and state.get("s").live
    events = state.apply(SessionSummary(session="s", summary={"reps": {"squat": 3}}), now=3.0)
    assert names(events) == ["ended", "session"]
    assert events[0].data["summary"] == {"reps": {"squat": 3}}
    assert state.get("s").live is False and state.cards(live_only=True) == []


def test_silent_sessions_go_idle_then_are_forgotten():
    state = LiveState(idle_after_s=20, forget_after_s=600)
    state.apply(Frame(session="a", source="camera:0", jpeg=b"x"), now=0.0)
    state.apply(Frame(session="b", source="browser", jpeg=b"x"), now=15.0)
    events = state.prune(now=25.0)
    assert [(e.name, e.session) for e in events] == [("session", "a")]
    assert state.get("a").idle and not state.get("a").live and state.get("b").live
    assert state.prune(now=26.0) == []  # said once
    # A message wakes an idle session up again.
    state.apply(Frame(session="a", source="camera:0", jpeg=b"x"), now=30.0)
    assert state.get("a").live
    events = state.prune(now=700.0)
    assert sorted((e.name, e.session) for e in events) == [("gone", "a"), ("gone", "b")]
    assert state.sessions == {}


def test_health_report_with_age_and_overall_state():
    state = LiveState()
    events = state.apply(HealthReport(services=[
        {"service": "pose", "instance": "w1", "pid": 10, "alive": True, "age_s": 0.4, "restarts": 0, "stats": {}},
        {"service": "speech", "instance": "s", "pid": 11, "alive": False, "age_s": 12.0, "restarts": 2,
         "stats": None}]), now=50.0)
    assert names(events) == ["health"] and events[0].session == ""
    view = state.health_view(now=53.0)
    assert view["report_age_s"] == 3.0 and view["all_alive"] is False
    assert view["services"][1] == {"service": "speech", "instance": "s", "alive": False, "health": "ok",
                                   "reason": "", "age_s": 12.0, "restarts": 2, "pid": 11, "stats": {}}
    # Services of the pipeline that never reported (e.g. crashing at start) are listed as missing.
    missing = [s["service"] for s in view["services"] if s.get("missing")]
    assert missing == ["capture", "broker", "classifier", "coach", "ui", "relay"]
    assert LiveState().health_view(now=1.0) == {"services": [], "report_age_s": None, "all_alive": False,
                                                "all_healthy": False}
    # Alive is not healthy: a coach whose store refuses writes is named with the reason.
    state.apply(HealthReport(services=[{"service": "coach", "instance": "c", "pid": 12, "alive": True,
                                        "health": "unhealthy", "reason": "history store x is read-only",
                                        "age_s": 0.2, "restarts": 0, "stats": {}}]), now=60.0)
    view = state.health_view(now=60.5)
    coach = next(s for s in view["services"] if s["service"] == "coach")
    assert coach["alive"] and coach["health"] == "unhealthy" and coach["reason"] == "history store x is read-only"
    assert view["all_healthy"] is False


def test_audio_is_announced_with_its_url():
    state = LiveState()
    events = state.apply(Frame(session="s", source="browser", jpeg=b"x"), now=1.0)
    events = state.note_audio("s", 7, "Nice work", "count", 0.84321, now=2.0)
    assert events[-1].name == "audio"
    assert events[-1].data == {"session": "s", "id": 7, "text": "Nice work", "kind": "count", "duration_s": 0.84,
                               "url": "/api/audio/7.wav"}


def test_messages_without_a_session_are_ignored():
    state = LiveState()
    assert state.apply(CoachUpdate(session="", reps={"squat": 1}), now=1.0) == []
    assert state.sessions == {}


def test_coach_view_of_a_fresh_session():
    state = LiveState()
    state.apply(Frame(session="s", source="browser", width=640, height=480, jpeg=b"x"), now=1.0)
    view = coach_view(state.get("s"))
    assert view["count"] == 0 and view["current"] == "none" and view["set_number"] == 0
    assert view["width"] == 640 and view["height"] == 480


def test_browser_sessions_are_listed_from_their_first_upload():
    state = LiveState()
    events = state.apply(CoachUpdate(session="web-x", exercise="squat", reps={"squat": 1}), now=1.0)
    events = state.note_source("web-x", "browser", 360, 640, now=1.5)
    assert names(events) == ["session"] and events[0].data["source"] == "browser"
    assert events[0].data["count"] == 1 and (events[0].data["width"], events[0].data["height"]) == (360, 640)
    assert state.note_source("web-x", "browser", 360, 640, now=2.0) == []  # said once
