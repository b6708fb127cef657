"""Analytics pages and exports over a real HistoryWriter, plus the SVG charts and the words they are built from."""
import csv
import io
import re
import time
from datetime import date, datetime, timedelta

import pytest

from common.config import Settings
from common.history import HistoryWriter
from services.ui import analytics, charts
from services.ui.app import create_app



def record_session(store, sid, start, plan, source="browser", cues_every=3):
    """Write a session through the coach's writer API: plan = [(exercise, [reps or hold seconds per set])]."""
    store.start_session(sid, start, source)
    t = start + 10.0
    rep_index = 0
    for exercise, sets in plan:
        for number, amount in enumerate(sets, 1):
            set_id = store.open_set(sid, exercise, number, t)
            if exercise == "plank":
                hold = store.start_hold(sid, set_id, exercise, t)
                store.update_hold(hold, float(amount))
                t += amount
            else:
                for rep in range(1, amount + 1):
                    duration = 2.0 + 0.1 * (rep % 3)
                    t += duration
                    rep_index += 1
                    cues = ["Go lower"] if rep_index % cues_every == 0 else []
                    store.record_rep(sid, set_id, exercise, rep, t, duration, 90.0, 70.0 + rep, cues)
                    for cue in cues:
                        store.record_cue(sid, t, exercise, "form", cue)
            store.close_set(set_id, t)
            t += 30.0
    store.end_session(sid, t + 5.0)
    return t + 5.0


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "workouts.sqlite3"
    store = HistoryWriter(path)
    now = time.time()
    record_session(store, "web-today", now - 3600, [("squat", [10, 8]), ("push_up", [6]), ("plank", [42])])
    record_session(store, "file-older", now - 3 * 86400, [("squat", [12])], source="file:/clips/squats.mp4")
    store.close()
    return path


@pytest.fixture
def client(store_path):
    return create_app(Settings(db_path=str(store_path))).test_client()


def test_overview_numbers_from_the_store(store_path):
    store = HistoryWriter(store_path)
    view = analytics.overview(store.list_sessions(), store.history(days=30), date.today(), days=30)
    store.close()
    assert view["sessions_count"] == 2 and view["active_days"] == 2
    assert view["total_reps"] == 10 + 8 + 6 + 12
    by_name = {t["exercise"]: t for t in view["totals"]}
    assert by_name["squat"]["reps"] == 30 and by_name["push_up"]["reps"] == 6
    assert by_name["plank"]["hold_s"] == pytest.approx(42.0)
    assert [t["exercise"] for t in view["totals"]] == ["squat", "push_up", "plank"]  # counted first, holds last
    assert view["insights"][0] == "You trained on 2 of the last 30 days, 0.5 days a week on average."
    assert view["sessions"][0]["id"] == "web-today"
    assert view["sessions"][0]["totals"] == "18 squats · 6 push-ups · Plank 42 s"
    assert view["reps_chart"].startswith("<svg") and "Squats" in view["reps_chart"]


def test_session_details_tempo_form_and_intensity(store_path):
    store = HistoryWriter(store_path)
    report = store.session_report("web-today")
    store.close()
    view = analytics.session_details(report)
    squat = next(e for e in view["exercises"] if e["exercise"] == "squat")
    assert squat["reps"] == 18 and squat["sets"] == 2
    assert squat["tempo"]["label"] == "very steady" and squat["tempo"]["mean_s"] == pytest.approx(2.1, abs=0.05)
    assert squat["form_avg"] == round(sum(70 + r for r in list(range(1, 11)) + list(range(1, 9))) / 18)
    assert view["intensity"] == round(report["intensity"] * 100)
    assert view["total_reps"] == 24 and view["total_hold"] == "42s"
    assert [(s["exercise"], s["number"]) for s in view["sets"]] == [("squat", 1), ("squat", 2), ("push_up", 1),
                                                                     ("plank", 1)]
    assert view["cue_counts"] == [("Go lower", 8)]
    assert any(line.startswith("Squats: your tempo was very steady") for line in view["insights"])
    # One bar per rep in the tempo chart.
    assert squat["tempo_chart"].count("<rect") == 18


def test_analytics_pages_render(client):
    page = client.get("/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-session="web-today"' in html and 'data-session="file-older"' in html
    assert "Video squats.mp4" in html and "<svg" in html
    report = client.get("/analytics/web-today")
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert 'id="total-reps">24<' in html and "Go lower" in html and 'data-exercise="plank"' in html
    missing = client.get("/analytics/nope")
    assert missing.status_code == 404 and "No stored session" in missing.get_data(as_text=True)


def test_exports(client):
    sessions = list(csv.DictReader(io.StringIO(client.get("/api/sessions.csv").get_data(as_text=True))))
    assert {(r["session"], r["exercise"], r["reps"]) for r in sessions} >= {("web-today", "squat", "18"),
                                                                          ("file-older", "squat", "12")}
    reps = list(csv.DictReader(io.StringIO(client.get("/api/sessions/web-today/reps.csv").get_data(as_text=True))))
    assert len(reps) == 24 and reps[0]["exercise"] == "squat" and float(reps[0]["duration_s"]) > 0
    assert sum(1 for r in reps if r["cues"] == "Go lower") == 8
    sets = list(csv.DictReader(io.StringIO(client.get("/api/sessions/web-today/sets.csv").get_data(as_text=True))))
    assert [s["reps"] for s in sets[:3]] == ["10", "8", "6"]
    r = client.get("/api/sessions/web-today/report.json")
    assert r.get_json()["totals"]["squat"]["reps"] == 18
    history = client.get("/api/history?days=30").get_json()
    assert sum(h["reps"] for h in history if h["exercise"] == "squat") == 30
    assert client.get("/api/history.csv").headers["Content-Disposition"] == 'attachment; filename="history.csv"'
    assert client.get("/api/sessions/nope/report.json").status_code == 404
    assert client.get("/api/history?days=abc").status_code == 400


def test_empty_history_explains_itself(tmp_path):
    client = create_app(Settings(db_path=str(tmp_path / "empty.sqlite3"))).test_client()
    html = client.get("/analytics").get_data(as_text=True)
    assert "No sessions yet" in html and "No workouts recorded yet" in html


# --------------------------------------------------------------------------- pure helpers


def test_durations_times_and_sources():
    assert analytics.fmt_duration(42.4) == "42 s" and analytics.fmt_duration(125) == "2 min 05 s"
    assert analytics.fmt_duration(3725) == "1 h 02 min" and analytics.fmt_duration(None) == "—"
    assert analytics.fmt_duration(125, short=True) == "2m 05s"
    ts = datetime(2026, 3, 4, 5, 6).timestamp()
    assert analytics.parse_time(ts) == datetime(2026, 3, 4, 5, 6)
    assert analytics.parse_time("2026-03-04T05:06:00") == datetime(2026, 3, 4, 5, 6)
    assert analytics.parse_time("not a time") is None
    assert analytics.fmt_when(ts, today=date(2026, 9, 1)) == "Wed 04 Mar, 05:06"
    assert analytics.fmt_when(ts, today=date(2027, 1, 1)) == "Wed 04 Mar 2026, 05:06"
    assert analytics.source_label("file:/a/b/squats.mp4") == "Video squats.mp4"
    assert analytics.source_label("camera:0") == "Camera 0" and analytics.source_label("browser") == "Browser camera"
    assert analytics.percent(0.456) == 46 and analytics.percent(None) is None


def test_consistency_words():
    assert analytics.consistency([2.0, 2.1]) is None  # too few reps to say
    assert analytics.consistency([2.0, 2.1, 1.9, 2.0])["label"] == "very steady"
    assert analytics.consistency([2.0, 2.8, 1.5, 2.2])["label"] == "steady"
    assert analytics.consistency([1.0, 3.0, 1.2, 4.0])["label"] == "uneven"


def test_streak_counts_back_from_today_or_yesterday():
    today = date(2026, 5, 10)
    days = {today - timedelta(days=d) for d in (1, 2, 3, 5)}
    assert analytics.streak(days, today) == 3
    assert analytics.streak(days | {today}, today) == 4
    assert analytics.streak({today - timedelta(days=2)}, today) == 0


def test_csv_cells_that_a_spreadsheet_would_run_are_defused():
    text = analytics.reps_csv({"id": "s", "reps": [{"exercise": "squat", "number": 1, "ts": 0, "duration_s": 2,
                                                     "cues": ["=HYPERLINK(\"x\")"]}]})
    row = list(csv.DictReader(io.StringIO(text)))[0]
    assert row["cues"].startswith("'=")


def test_nice_ticks():
    assert charts.nice_ticks(7) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(100) == [0, 50, 100]
    assert charts.nice_ticks(37.5) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(0) == [0.0, 1.0] and charts.nice_ticks(float("nan")) == [0.0, 1.0]


def test_charts_escape_labels_and_draw_one_mark_per_value():
    svg = charts.bar_chart([("<script>", 3.0), ("b", 5.0)], title="T & U")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "T &amp; U" in svg
    assert svg.count("<rect") == 2
    empty = charts.bar_chart([("a", 0.0)], title="Nothing", empty="No reps yet")
    assert "No reps yet" in empty
    line = charts.line_chart([80.0, None, 90.0, 95.0], ["1", "2", "3", "4"], title="Form", y_max=100)
    assert line.count("<circle") == 3
    path = re.search(r'<path d="([^"]+)"', line).group(1)
    assert path.count("M") == 2  # the missing score breaks the line
    stacked = charts.stacked_bars(["1", "2"], [("Squats", "#00f", [1.0, 2.0]), ("Lunges", "#f00", [0.0, 4.0])],
                                  title="Reps")
    assert stacked.count("<rect") == 3 + 2  # three segments plus two legend swatches
    hbar = charts.hbar_chart([("Go lower", 3.0), ("Chest up", 5.0)], title="Cues")
    assert hbar.index("Chest up") < hbar.index("Go lower")  # longest first


def test_seconds_per_rep_is_the_time_from_one_rep_to_the_next(tmp_path):
    # Each squat takes 1.0 s of movement, then the trainee stands 0.6 s: reps are 1.6 s apart.
    store = HistoryWriter(tmp_path / "w.sqlite3")
    store.start_session("web-tempo", 1000.0, "browser")
    set_id = store.open_set("web-tempo", "squat", 1, 1000.0)
    for rep in range(1, 11):
        store.record_rep("web-tempo", set_id, "squat", rep, 1000.0 + 1.6 * rep, 1.0, 118.2, 90.0, [])
    store.close_set(set_id, 1016.0)
    store.end_session("web-tempo", 1020.0)
    report = store.session_report("web-tempo")
    store.close()
    squat = analytics.session_details(report)["exercises"][0]
    assert squat["tempo"]["mean_s"] == pytest.approx(1.6 - 0.6 / 10, abs=0.01)   # the first rep: its own 1.0 s
    assert analytics.rep_intervals(report["reps"])[1:] == [pytest.approx(1.6)] * 9


def test_range_of_motion_is_shown_in_degrees(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    store.start_session("web-rom", 1000.0, "browser")
    set_id = store.open_set("web-rom", "squat", 1, 1000.0)
    store.record_rep("web-rom", set_id, "squat", 1, 1002.0, 1.5, 118.2, 90.0, [])
    store.end_session("web-rom", 1005.0)
    store.close()
    html = create_app(Settings(db_path=str(tmp_path / "w.sqlite3"))).test_client().get("/analytics/web-rom")
    assert "Range of motion <strong>118.2°</strong>" in html.get_data(as_text=True)


def test_nothing_is_stored_or_exported_with_an_empty_exercise(tmp_path):
    store = HistoryWriter(tmp_path / "w.sqlite3")
    store.start_session("web-empty", 1000.0, "browser")
    with pytest.raises(ValueError):
        store.open_set("web-empty", "", 1, 1000.0)
    store.end_session("web-empty", 1010.0)
    rows = list(csv.reader(io.StringIO(analytics.sessions_csv(store.list_sessions()))))
    store.close()
    assert rows[1][4] == "none" and rows[1][5:] == ["0", "0"]
