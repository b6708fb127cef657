"""The UI on its own in headless Chromium: the real camera path out, live bus messages in, every page drawn."""
import io
import math
import struct
import time
import wave

import cv2
import numpy as np
import pytest

from common.history import HistoryWriter
from common.messages import Audio, Classification, CoachUpdate, EndOfStream, Frame, HealthReport, SessionSummary

pytestmark = pytest.mark.browser


def wav_bytes(seconds=0.3, rate=16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 6))) for i in range(int(seconds * rate))))
    return out.getvalue()


def painted_pixels(page, selector: str) -> int:
    """How many pixels of a canvas have been drawn on (the skeleton overlay is transparent elsewhere)."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""", selector)


def test_trainee_camera_reaches_capture_and_live_coaching_shows(launch_browser, bus_rig, squat_clip, artifacts):
    from offline.landmark_cache import extract
    poses = extract(squat_clip[0])
    browser = launch_browser()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    audio_requests = []
    page.on("request", lambda req: audio_requests.append(req.url) if "/api/audio/" in req.url else None)
    page.goto(bus_rig.url + "/")
    page.wait_for_selector("#link-status.ok")
    session = page.inner_text("#session-id")
    assert session.startswith("web-")

    page.select_option("#exercise-choice", "squat")
    page.click("#start")
    # Stand in for the pose pipeline: answer every frame with a pose, as the classifier would.
    frames = []
    for i in range(20):
        frame = bus_rig.receive_upload()
        frames.append(frame)
        bus_rig.publish("classified", Classification(session=session, seq=frame.seq, width=frame.width,
                                                     height=frame.height, landmarks=poses.landmarks[60 + i].tobytes(),
                                                     exercise="squat", phase="end"))
    assert all(isinstance(f, Frame) and f.session == session and f.source == "browser" for f in frames)
    assert [f.seq for f in frames] == list(range(20))
    assert {f.chosen_exercise for f in frames} == {"squat"}     # the trainee's pick travels with every frame
    first = cv2.imdecode(np.frombuffer(frames[-1].jpeg, np.uint8), cv2.IMREAD_COLOR)
    # 640 px on the long side, or less when the page stepped down because answers came slowly (a busy machine).
    assert (first.shape[1], first.shape[0]) == (frames[-1].width, frames[-1].height)
    assert (frames[0].width, frames[0].height) == (360, 640) and frames[-1].height in (640, 480, 360)
    assert abs(frames[-1].width / frames[-1].height - 360 / 640) < 0.01
    assert first.std() > 20  # a real picture, not a black frame
    span = frames[-1].ts_capture - frames[0].ts_capture
    print(f"browser upload rate: {19 / span:.1f} fps over {span:.2f} s")
    page.wait_for_function("window.__ftStats && window.__ftStats.answered >= 15")
    assert page.evaluate("document.getElementById('frame-view').classList.contains('showing')")

    # What the rest of the pipeline would say about this session.
    bus_rig.publish("coach", CoachUpdate(session=session, exercise="squat", phase="end", reps={"squat": 2},
                                         set_number=1, reps_in_set=2, cues=["Go lower"], form_score=77.0,
                                         setup=["Too dark: turn on a light"], body_visible=True, events=["rep"]))
    bus_rig.publish("audio", Audio(session=session, text="Go lower", kind="form", duration_s=0.3, wav=wav_bytes()))
    bus_rig.publish("health_out", HealthReport(services=[
        {"service": "pose", "instance": "w1", "pid": 1, "alive": True, "age_s": 0.2, "restarts": 0, "stats": {}},
        {"service": "speech", "instance": "s1", "pid": 2, "alive": False, "age_s": 9.0, "restarts": 1,
         "stats": {}}]))
    page.wait_for_function("document.getElementById('rep-count').textContent === '2'")
    assert page.inner_text("#count-exercise") == "Squats"
    assert page.inner_text("#set-number") == "Set 1" and page.inner_text("#form-score") == "77/100"
    assert "Go lower" in page.inner_text("#corrections")
    assert "Too dark" in page.inner_text("#setup-warnings")
    assert page.inner_text("#exercise-badge") == "Squats"
    page.wait_for_function("document.querySelector('#health li.bad') !== null")
    assert "pose" in page.inner_text("#health") and "0/1 alive" in page.inner_text("#health")
    page.wait_for_function("document.getElementById('spoken-cue').textContent === 'Go lower'")
    assert any("/api/audio/" in url for url in audio_requests), "the spoken cue was never fetched"
    assert painted_pixels(page, "#overlay") > 500, "no skeleton drawn over the video"
    page.screenshot(path=str(artifacts / "ui-trainee-alone.png"))
    # The trainee walks out of the picture: no praise for form nobody is watching.
    bus_rig.publish("coach", CoachUpdate(session=session, exercise="squat", phase="end", reps={"squat": 2},
                                         set_number=1, reps_in_set=2, body_visible=True))
    page.wait_for_function("document.getElementById('corrections').textContent.includes('Good form')")
    bus_rig.publish("coach", CoachUpdate(session=session, exercise="none", reps={"squat": 2}, set_number=1,
                                         reps_in_set=2, body_visible=False))
    page.wait_for_function("document.getElementById('corrections').textContent.includes('Nobody in view')")
    assert "Good form" not in page.inner_text("#corrections")

    page.click("#stop")
    sent = len(frames)
    while True:
        msg = bus_rig.receive_upload()
        if isinstance(msg, EndOfStream):
            break
        assert msg.seq == sent
        sent += 1
    assert msg.session == session and msg.frames == sent and msg.seq == sent and msg.reason == "stopped"
    page.wait_for_function("document.getElementById('frames-status').hidden")
    assert page.inner_text("#camera-status") == "Camera off"
    bus_rig.publish("coach", SessionSummary(session=session, summary={"reps": {"squat": 2}}))
    page.wait_for_selector("#report-link:not([hidden])")
    assert page.get_attribute("#report-link", "href") == f"/analytics/{session}"
    assert errors == []


def test_instructor_grid_and_watch_page(launch_browser, bus_rig, squat_clip, artifacts):
    from offline.landmark_cache import extract
    poses = extract(squat_clip[0])
    cap = cv2.VideoCapture(str(squat_clip[0]))
    ok, image = cap.read()
    cap.release()
    image = cv2.resize(image, (360, 640))
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    browser = launch_browser(camera=None)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(bus_rig.url + "/instructor")
    page.wait_for_selector("#link-status.ok")
    assert page.is_visible("#empty")
    for i in range(3):
        bus_rig.publish("capture_preview", Frame(session="file-squats", seq=i, source="file:/clips/squats.mp4",
                                                 width=360, height=640, jpeg=jpeg))
    bus_rig.publish("classified", Classification(session="file-squats", seq=2, width=360, height=640,
                                                 landmarks=poses.landmarks[30].tobytes(), exercise="squat"))
    bus_rig.publish("coach", CoachUpdate(session="file-squats", exercise="squat", reps={"squat": 4}, set_number=1,
                                         reps_in_set=4, cues=["Keep your chest up"]))
    bus_rig.publish("coach", CoachUpdate(session="web-plank", exercise="plank", hold_seconds={"plank": 75.0},
                                         holding=True))
    page.wait_for_function("document.querySelectorAll('.session-card:not([hidden])').length === 2")
    card = page.locator('.session-card[data-session="file-squats"]')
    card.locator(".count").wait_for()
    page.wait_for_function("""document.querySelector('.session-card[data-session="file-squats"] .count')
                              .textContent === '4'""")
    assert "Keep your chest up" in card.inner_text()
    plank = page.locator('.session-card[data-session="web-plank"]')
    page.wait_for_function("""document.querySelector('.session-card[data-session="web-plank"] .count')
                              .textContent === '1:15'""")
    assert "holding" in plank.inner_text()
    assert page.is_hidden("#empty")
    page.wait_for_function("""(() => { const i = document.querySelector('.session-card[data-session="file-squats"] img');
                              return i && i.naturalWidth === 360; })()""")
    page.screenshot(path=str(artifacts / "ui-instructor.png"))
    bus_rig.publish("coach", SessionSummary(session="web-plank", summary={}))
    page.wait_for_function("document.querySelectorAll('.session-card:not([hidden])').length === 1")

    watch = browser.new_page(viewport={"width": 1280, "height": 800})
    watch.on("pageerror", lambda exc: errors.append(str(exc)))
    watch.goto(bus_rig.url + "/watch/file-squats")
    watch.wait_for_function("document.getElementById('rep-count').textContent === '4'")
    watch.wait_for_function("document.getElementById('feed').naturalWidth === 360")
    bus_rig.publish("classified", Classification(session="file-squats", seq=3, width=360, height=640,
                                                 landmarks=poses.landmarks[31].tobytes(), exercise="squat"))
    watch.wait_for_function("""(() => { const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })()""")
    watch.screenshot(path=str(artifacts / "ui-watch.png"))
    assert errors == []


def test_trainee_page_fits_a_phone(launch_browser, bus_rig, artifacts):
    browser = launch_browser()
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                            has_touch=True)
    page.goto(bus_rig.url + "/")
    page.click("#start")
    page.wait_for_selector("#stage.live")
    page.wait_for_function("document.getElementById('video').videoWidth > 0")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    # The count is on the first screens, not pushed far below the video.
    box = page.locator("#rep-count").bounding_box()
    assert box and box["width"] > 0
    page.screenshot(path=str(artifacts / "ui-trainee-phone.png"), full_page=True)
    page.click("#stop")


def test_analytics_pages_in_the_browser(launch_browser, bus_rig, artifacts):
    store = HistoryWriter(bus_rig.settings.db_path)
    start = time.time() - 1800
    store.start_session("web-hist1", start, "browser")
    set_id = store.open_set("web-hist1", "squat", 1, start + 5)
    for rep in range(1, 7):
        store.record_rep("web-hist1", set_id, "squat", rep, start + 5 + 2.5 * rep, 2.5, 85.0, 80.0 + rep,
                         ["Go lower"] if rep == 3 else [])
    store.record_cue("web-hist1", start + 12.5, "squat", "form", "Go lower")
    store.close_set(set_id, start + 20)
    store.end_session("web-hist1", start + 30)
    store.close()
    browser = launch_browser(camera=None)
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(bus_rig.url + "/analytics")
        assert page.inner_text("#stat-reps") == "6"
        assert page.locator("svg.chart").count() >= 2
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(artifacts / f"ui-analytics-{width}.png"), full_page=True)
        page.click('#sessions-list li[data-session="web-hist1"] a')
        page.wait_for_selector("#total-reps")
        assert page.inner_text("#total-reps") == "6"
        assert "Go lower" in page.inner_text("body")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(artifacts / f"ui-report-{width}.png"), full_page=True)
        page.close()


def test_camera_denied_or_missing_is_explained_in_plain_words(launch_browser, bus_rig, artifacts):
    denied = launch_browser(camera="deny")
    page = denied.new_page(viewport={"width": 1280, "height": 800})
    page.goto(bus_rig.url + "/")
    page.click("#start")
    page.wait_for_selector("#camera-error:not([hidden])")
    text = page.inner_text("#camera-error")
    assert "The camera is blocked." in text and "allow the camera" in text.lower()
    assert "NotAllowedError" not in page.inner_text("body")
    page.screenshot(path=str(artifacts / "ui-camera-denied.png"))
    missing = launch_browser(camera="none")
    page = missing.new_page(viewport={"width": 1280, "height": 800})
    page.goto(bus_rig.url + "/")
    page.click("#start")
    page.wait_for_selector("#camera-error:not([hidden])")
    text = page.inner_text("#camera-error")
    assert "No camera found." in text and "Plug in a webcam" in text
    assert "NotFoundError" not in page.inner_text("body")
    assert page.inner_text("#camera-status") == "Camera unavailable"
    page.screenshot(path=str(artifacts / "ui-camera-missing.png"))


def test_after_a_reload_the_page_tells_of_the_workout_just_saved(launch_browser, bus_rig, artifacts):
    browser = launch_browser()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(bus_rig.url + "/")
    assert page.is_visible("#intro")                  # a first visit explains itself
    page.click("#intro-close")
    page.click("#start")
    frame = bus_rig.receive_upload()
    session = frame.session
    page.reload()                                     # the tab's socket closes: the session ends ...
    while not isinstance(msg := bus_rig.receive_upload(), EndOfStream):
        pass
    assert msg.session == session and msg.reason == "closed"
    store = HistoryWriter(bus_rig.settings.db_path)   # ... and the coach saves it
    start = time.time() - 60
    store.start_session(session, start, "browser")
    set_id = store.open_set(session, "squat", 1, start + 5)
    for rep in range(1, 4):
        store.record_rep(session, set_id, "squat", rep, start + 5 + 2 * rep, 1.8, 90.0, 85.0, [])
    store.close_set(set_id, start + 12)
    store.end_session(session, start + 20)
    store.close()
    page.wait_for_selector("#saved-banner:not([hidden])", timeout=20000)
    assert "was saved: 3 squats" in page.inner_text("#saved-banner")
    assert page.get_attribute("#saved-link", "href") == f"/analytics/{session}"
    assert page.is_hidden("#intro")                   # not a first visit any more
    page.screenshot(path=str(artifacts / "ui-trainee-after-reload.png"))


def test_with_a_token_a_browser_without_it_gets_the_access_page(launch_browser, tmp_path, artifacts):
    from common.config import Settings
    from services.ui.server import UiServer
    server = UiServer(Settings(ui_port=0, ui_host="127.0.0.1", ui_token="tok-browser",
                               db_path=str(tmp_path / "w.sqlite3"))).start()
    try:
        page = launch_browser(camera=None).new_page()
        response = page.goto(server.url + "/")
        assert response.status == 401
        assert page.inner_text("h1") == "Access token needed"
        page.screenshot(path=str(artifacts / "ui-token-needed.png"))
        response = page.goto(server.url + "/analytics?token=tok-browser")
        assert response.status == 200 and page.url == server.url + "/analytics"   # the token left the address
        response = page.goto(server.url + "/nope")
        assert response.status == 404 and "Page not found" in page.inner_text("body")
        response = page.goto(server.url + "/watch/web-nobody")
        assert response.status == 404 and "No such session" in page.inner_text("body")
    finally:
        server.stop()


def test_a_workout_plan_picks_the_exercise_and_moves_on(launch_browser, bus_rig, artifacts):
    page = launch_browser(camera=None).new_page(viewport={"width": 1280, "height": 800})
    page.goto(bus_rig.url + "/")
    page.click("#intro-close")
    page.click("#plan-toggle")
    page.click("#plan-add")
    page.click("#plan-add")
    rows = page.locator("#plan-steps tbody tr")
    rows.nth(0).locator("select").select_option("squat")
    rows.nth(0).locator("input").nth(0).fill("2")
    rows.nth(0).locator("input").nth(0).dispatch_event("change")
    rows.nth(1).locator("select").select_option("plank")
    page.screenshot(path=str(artifacts / "ui-plan.png"))
    page.click("#plan-start")
    assert page.input_value("#exercise-choice") == "squat" and page.is_disabled("#exercise-choice")
    assert page.inner_text("#plan-badge").startswith("Plan: Squats · set 1 of 2")
    # The plan follows the coach's counts (the same logic the page runs on every coach update).
    steps = page.evaluate("""() => {
        const p = new FT.Plan(['plank']);
        p.steps = [{exercise: 'squat', reps: 2, sets: 2}, {exercise: 'plank', reps: 10, sets: 1}];
        p.begin();
        const seen = [p.exercise];
        for (const v of [{reps: {squat: 5}}, {reps: {squat: 7}}, {reps: {squat: 8}}, {reps: {squat: 9}},
                         {hold_seconds: {plank: 3}}, {hold_seconds: {plank: 13}}])
          seen.push(p.observe(v) || p.exercise);
        return seen;
    }""")
    assert steps == ["squat", "squat", "set", "squat", "step", "plank", "done"]


def test_a_full_trainer_says_so_on_the_page(launch_browser, tmp_path, artifacts):
    from tests.browser.conftest import BusRig
    rig = BusRig(tmp_path / "w.sqlite3", ui_max_sessions=1)
    try:
        browser = launch_browser()
        first = browser.new_context().new_page()
        first.goto(rig.url + "/")
        first.click("#start")
        assert isinstance(rig.receive_upload(), Frame)
        second = browser.new_context().new_page()
        second.goto(rig.url + "/")
        second.click("#start")
        second.wait_for_selector("#trainer-message:not([hidden])")
        assert "The trainer is full" in second.inner_text("#trainer-message")
        assert second.inner_text("#camera-status") == "Camera off"
        second.screenshot(path=str(artifacts / "ui-trainer-full.png"))
    finally:
        rig.close()
