"""Analytics views: turn the workout store's sessions, reports and history into numbers, words and charts."""
from __future__ import annotations

import csv
import io
import statistics
from datetime import date, datetime, timedelta

from common.exercises import EXERCISES, NONE, display_name, is_hold
from services.ui import charts


# --------------------------------------------------------------------------- formatting

def parse_time(value) -> datetime | None:
    """Epoch seconds or ISO text -> local naive datetime (the store may give either)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value))
        dt = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return None
    return dt.astimezone().replace(tzinfo=None) if dt.tzinfo else dt


def parse_day(value) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    dt = parse_time(value)
    return dt.date() if dt else None


def fmt_duration(seconds, short: bool = False) -> str:
    """"4 min 05 s" in sentences and tables; short ("4m 05s") where space is tight, like stat tiles."""
    if seconds is None:
        return "—"
    s = max(0, int(round(float(seconds))))
    if short:
        return f"{s}s" if s < 60 else f"{s // 60}m {s % 60:02d}s" if s < 3600 else f"{s // 3600}h {(s % 3600) // 60:02d}m"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def fmt_when(value, today: date | None = None) -> str:
    """"Tue 25 Nov 2026, 08:35"; given `today`, the year is left out when it is this year's."""
    dt = parse_time(value)
    if dt is None:
        return "—"
    if today is not None and dt.year == today.year:
        return dt.strftime("%a %d %b, %H:%M")
    return dt.strftime("%a %d %b %Y, %H:%M")


def source_label(source: str) -> str:
    source = source or ""
    if source == "browser":
        return "Browser camera"
    if source == "live":
        return "Live camera"
    if source.startswith("file:"):
        return "Video " + source[5:].rsplit("/", 1)[-1]
    if source.startswith("camera:"):
        return "Camera " + source[7:]
    return source or "—"


def percent(share) -> int | None:
    """The store's intensity as a whole percentage (it is a share 0..1; tolerate a percentage too)."""
    if share is None:
        return None
    share = float(share)
    return int(round(share * 100 if share <= 1.0 else share))


def _order(exercises) -> list[str]:
    """Counted exercises before holds, each in the trainer's usual order."""
    known = [e for e in EXERCISES if e in exercises] + sorted(e for e in exercises if e not in EXERCISES)
    return [e for e in known if not is_hold(e)] + [e for e in known if is_hold(e)]


def totals_text(totals: dict) -> str:
    """{exercise: {reps, hold_seconds}} -> "12 squats · plank 45 s"."""
    parts = []
    for ex in _order(totals):
        t = totals[ex] or {}
        if is_hold(ex):
            if t.get("hold_seconds"):
                parts.append(f"{display_name(ex)} {fmt_duration(t['hold_seconds'])}")
        elif t.get("reps"):
            parts.append(f"{int(t['reps'])} {display_name(ex).lower()}")
    return " · ".join(parts) or "no exercise counted"


# --------------------------------------------------------------------------- consistency

def consistency(durations: list[float]) -> dict | None:
    """Tempo steadiness of a run of reps: mean, spread and a word for it (None below three reps)."""
    clean = [float(d) for d in durations if d is not None and float(d) > 0]
    if len(clean) < 3:
        return None
    mean = statistics.fmean(clean)
    spread = statistics.pstdev(clean)
    cv = spread / mean if mean else 0.0
    label = "very steady" if cv < 0.15 else "steady" if cv < 0.3 else "uneven"
    return {"mean_s": round(mean, 2), "spread_s": round(spread, 2), "cv": round(cv, 3), "label": label}


# --------------------------------------------------------------------------- one session

def rep_intervals(rows: list[dict]) -> list[float | None]:
    """Seconds from each rep to the one before it in the same set: the tempo a trainee feels (movement plus
    the pause at the top). A set's first rep has no rep before it, so its own movement time stands in."""
    out: list[float | None] = []
    previous = None
    for row in rows:
        ts, number = row.get("ts"), row.get("number")
        if (previous is not None and ts is not None and previous.get("ts") is not None and number is not None
                and previous.get("number") is not None and number == previous["number"] + 1 and ts > previous["ts"]):
            out.append(round(float(ts) - float(previous["ts"]), 3))
        else:
            out.append(row.get("duration_s"))
        previous = row
    return out


def session_details(report: dict) -> dict:
    """A session report from the store, with per-exercise tempo, form, charts and plain-word insights."""
    reps = list(report.get("reps") or [])
    totals = dict(report.get("totals") or {})
    exercises = _order(set(totals) | {r.get("exercise") for r in reps if r.get("exercise")})
    per_exercise = []
    insights = [str(s) for s in report.get("insights") or []]
    for i, ex in enumerate(exercises):
        rows = [r for r in reps if r.get("exercise") == ex]
        rows.sort(key=lambda r: (r.get("ts") or 0, r.get("number") or 0))
        color = charts.color_of(ex, i)
        durations = rep_intervals(rows)
        scores = [r.get("form_score") for r in rows]
        roms = [r.get("range_of_motion") for r in rows if r.get("range_of_motion") is not None]
        valid_scores = [float(s) for s in scores if s is not None]
        tempo = consistency(durations)
        # Rep numbers restart with every set; the charts count through the whole session.
        labels = [str(n + 1) for n in range(len(rows))]
        every = max(1, len(rows) // 12)
        t = totals.get(ex, {}) or {}
        entry = {
            "exercise": ex, "name": display_name(ex), "color": color, "is_hold": is_hold(ex),
            "reps": int(t.get("reps") or len(rows)), "hold_s": float(t.get("hold_seconds") or 0.0),
            "hold_text": fmt_duration(t.get("hold_seconds") or 0), "sets": int(t.get("sets") or 0),
            "tempo": tempo, "form_avg": round(statistics.fmean(valid_scores)) if valid_scores else None,
            "rom_avg": round(statistics.fmean(float(r) for r in roms), 1) if roms else None,
            "rows": rows,
            "tempo_chart": charts.bar_chart([(lab, float(d or 0)) for lab, d in zip(labels, durations)],
                                            title=f"{display_name(ex)}: seconds per rep", unit="s", color=color,
                                            empty="No reps timed", label_every=every) if rows else "",
            "form_chart": charts.line_chart([None if s is None else float(s) for s in scores], labels,
                                            title=f"{display_name(ex)}: form score per rep", unit="score",
                                            color=color, y_max=100, empty="No form scores",
                                            label_every=every) if valid_scores else "",
        }
        per_exercise.append(entry)
        if tempo:
            insights.append(f"{entry['name']}: your tempo was {tempo['label']} — {tempo['mean_s']:.1f} s per rep, "
                            f"give or take {tempo['spread_s']:.1f} s.")
    sets = []
    for s in report.get("sets") or []:
        start, end = parse_time(s.get("started_at")), parse_time(s.get("ended_at"))
        sets.append({**s, "name": display_name(s.get("exercise", "")),
                     "duration": fmt_duration((end - start).total_seconds()) if start and end else "—",
                     "hold_text": fmt_duration(s.get("hold_seconds") or 0)})
    cue_counts = dict(report.get("cue_counts") or {})
    total_reps = sum(e["reps"] for e in per_exercise if not e["is_hold"])
    total_hold = sum(e["hold_s"] for e in per_exercise if e["is_hold"])
    sets_per_exercise = charts.bar_chart(
        [(e["name"], float(e["sets"])) for e in per_exercise if e["sets"]], title="Sets per exercise",
        colors=[e["color"] for e in per_exercise if e["sets"]], empty="No sets finished")
    return {
        "id": report.get("id"), "when": fmt_when(report.get("started_at")),
        "ended": fmt_when(report.get("ended_at")), "source": source_label(report.get("source", "")),
        "total_time": fmt_duration(report.get("total_time_s"), short=True),
        "active_time": fmt_duration(report.get("active_time_s"), short=True),
        "intensity": percent(report.get("intensity")), "total_reps": total_reps,
        "total_hold": fmt_duration(total_hold, short=True) if total_hold else None,
        "exercises": per_exercise, "sets": sets, "sets_chart": sets_per_exercise,
        "cue_counts": sorted(cue_counts.items(), key=lambda kv: -kv[1]),
        "cue_chart": charts.hbar_chart([(k, float(v)) for k, v in cue_counts.items()],
                                       title="Form corrections in this session", unit="×",
                                       empty="No corrections: clean form") if cue_counts else "",
        "insights": insights,
    }


# --------------------------------------------------------------------------- over time

def daily_series(history: list[dict], today: date, days: int) -> tuple[list[date], dict, dict]:
    """Per-day reps and hold seconds by exercise for the `days` days ending today."""
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    reps: dict[str, list[float]] = {}
    hold: dict[str, list[float]] = {}
    for row in history:
        day = parse_day(row.get("date"))
        ex = row.get("exercise") or ""
        if day not in index or not ex:
            continue
        reps.setdefault(ex, [0.0] * days)[index[day]] += float(row.get("reps") or 0)
        hold.setdefault(ex, [0.0] * days)[index[day]] += float(row.get("hold_seconds") or 0)
    return dates, reps, hold


def streak(active: set[date], today: date) -> int:
    """Days in a row with a workout, ending today (or yesterday, if today has none yet)."""
    day = today if today in active else today - timedelta(days=1)
    n = 0
    while day in active:
        n += 1
        day -= timedelta(days=1)
    return n


def overview(sessions: list[dict], history: list[dict], today: date, days: int = 30) -> dict:
    """The analytics front page: totals, trends, consistency and a list of sessions."""
    dates, reps, hold = daily_series(history, today, days)
    active = {d for i, d in enumerate(dates) if any(v[i] for v in reps.values()) or any(v[i] for v in hold.values())}
    exercises = _order(set(reps) | set(hold))
    totals = []
    for ex in exercises:
        r, h = reps.get(ex, [0.0] * days), hold.get(ex, [0.0] * days)
        week, previous = sum(r[-7:]), sum(r[-14:-7])
        hold_week, hold_previous = sum(h[-7:]), sum(h[-14:-7])
        totals.append({"exercise": ex, "name": display_name(ex), "color": charts.color_of(ex), "is_hold": is_hold(ex),
                       "reps": int(sum(r)), "hold_s": sum(h), "hold_text": fmt_duration(sum(h)),
                       "days": sum(1 for i in range(days) if r[i] or h[i]),
                       "week": hold_week if is_hold(ex) else week,
                       "previous_week": hold_previous if is_hold(ex) else previous})
    labels = [d.strftime("%d") for d in dates]
    every = max(1, days // 10)
    rep_series = [(display_name(ex), charts.color_of(ex), reps[ex]) for ex in exercises if not is_hold(ex) and ex in reps]
    hold_values = [sum(hold[ex][i] for ex in hold if is_hold(ex)) for i in range(days)]
    session_rows = []
    for s in sessions:
        start, end = parse_time(s.get("started_at")), parse_time(s.get("ended_at"))
        session_rows.append({"id": s.get("id"), "when": fmt_when(s.get("started_at"), today),
                             "duration": fmt_duration((end - start).total_seconds()) if start and end else "in progress",
                             "source": source_label(s.get("source", "")),
                             "totals": totals_text(s.get("totals") or {})})
    return {
        "days": days, "active_days": len(active), "streak": streak(active, today),
        "sessions_count": len([s for s in sessions if (parse_day(s.get("started_at")) or date.min) >= dates[0]]),
        "total_reps": sum(t["reps"] for t in totals if not t["is_hold"]),
        "total_hold": fmt_duration(sum(t["hold_s"] for t in totals if t["is_hold"]), short=True),
        "totals": totals, "sessions": session_rows,
        "reps_chart": charts.stacked_bars(labels, rep_series, title=f"Reps per day, last {days} days",
                                          empty="No reps in this period", label_every=every),
        "hold_chart": charts.bar_chart(list(zip(labels, hold_values)), title=f"Plank seconds per day, last {days} days",
                                       unit="s", color=charts.color_of("plank"), empty="No planks in this period",
                                       label_every=every),
        "insights": trend_insights(totals, len(active), streak(active, today), days),
    }


def trend_insights(totals: list[dict], active_days: int, streak_days: int, days: int) -> list[str]:
    """Plain sentences about the period: how regular, what went up or down this week."""
    if not totals:
        return ["No workouts recorded yet. Start the camera on the trainee page and your sessions will show up here."]
    out = [f"You trained on {active_days} of the last {days} days"
           + (f", {active_days / (days / 7):.1f} days a week on average." if active_days else ".")]
    if streak_days >= 2:
        out.append(f"You are on a {streak_days}-day streak. Keep it going!")
    for t in totals:
        unit = "seconds of" if t["is_hold"] else "reps of"
        now, before = t["week"], t["previous_week"]
        if now and before:
            change = (now - before) / before * 100
            if abs(change) < 0.5:
                out.append(f"{t['name']}: {int(now)} {unit.split()[0]} this week, the same as the week before.")
            else:
                direction = "up" if change > 0 else "down"
                out.append(f"{t['name']}: {int(now)} {unit.split()[0]} this week, {direction} {abs(change):.0f}% "
                           f"on the week before.")
        elif now:
            out.append(f"{t['name']}: {int(now)} {unit.split()[0]} this week.")
        elif before:
            out.append(f"No {t['name'].lower()} this week (you did {int(before)} {unit.split()[0]} the week before).")
    best = max((t for t in totals if not t["is_hold"]), key=lambda t: t["reps"], default=None)
    if best and best["reps"]:
        out.append(f"Your most trained exercise is {best['name'].lower()} with {best['reps']} reps.")
    return out


# --------------------------------------------------------------------------- exports

def _cell(value):
    # Spreadsheets execute cells starting with these; cue texts are free text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _iso(value) -> str:
    dt = parse_time(value)
    return dt.isoformat(timespec="seconds") if dt else ""


def sessions_csv(sessions: list[dict]) -> str:
    rows = []
    for s in sessions:
        totals = s.get("totals") or {}
        base = [s.get("id"), _iso(s.get("started_at")), _iso(s.get("ended_at")), s.get("source", "")]
        if not totals:
            # Nothing counted is a fact worth a row, under a name a spreadsheet can filter on.
            rows.append(base + [NONE, 0, 0])
        for ex in _order(totals):
            t = totals[ex] or {}
            rows.append(base + [ex, int(t.get("reps") or 0), round(float(t.get("hold_seconds") or 0), 1)])
    return _csv(["session", "started_at", "ended_at", "source", "exercise", "reps", "hold_seconds"], rows)


def history_csv(history: list[dict]) -> str:
    rows = [[h.get("date"), h.get("exercise"), int(h.get("reps") or 0), round(float(h.get("hold_seconds") or 0), 1),
             int(h.get("sessions") or 0)] for h in history]
    return _csv(["date", "exercise", "reps", "hold_seconds", "sessions"], rows)


def reps_csv(report: dict) -> str:
    rows = [[report.get("id"), r.get("exercise"), r.get("number"), _iso(r.get("ts")), r.get("duration_s"),
             r.get("range_of_motion"), r.get("form_score"), "; ".join(str(c) for c in r.get("cues") or [])]
            for r in report.get("reps") or []]
    return _csv(["session", "exercise", "rep", "time", "duration_s", "range_of_motion", "form_score", "cues"], rows)


def sets_csv(report: dict) -> str:
    rows = [[report.get("id"), s.get("exercise"), s.get("number"), _iso(s.get("started_at")), _iso(s.get("ended_at")),
             s.get("reps"), s.get("hold_seconds")] for s in report.get("sets") or []]
    return _csv(["session", "exercise", "set", "started_at", "ended_at", "reps", "hold_seconds"], rows)
