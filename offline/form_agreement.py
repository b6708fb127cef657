"""How well the form rules agree with form-labelled landmark data (`python -m offline.form_agreement`).

- landmarks/form-labelled-rows/plank_model/test.csv: C correct, H hips too high, L hips too low (frames);
- landmarks/form-labelled-rows/lunge_model/err.test.csv: C correct, L knee over the toes (frames);
- landmarks/pushup-sequences/{correct,incorrect}/*.npy: whole push-up sequences, [frames, 17, (x, y, vis)].
The rows carry no picture size; ASPECT is the usual 16:9 of their source videos (an assumption).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common.config import Settings
from common.exercises import END, START
from offline.landmark_files import read_rows, read_sequence, unseen_where_absent
from services.coach.body import Body
from services.coach.form_rules import RULES_BY_EXERCISE, judge
from services.coach.form_tracker import FormTracker


DATA = Path(Settings.from_env().data_dir) / "landmarks"
ASPECT = 16 / 9


def read_labelled_rows(path: Path) -> list[tuple[str, np.ndarray]]:
    """(label, [33, 4] landmarks as Body takes them) per row of a form-labelled-rows file."""
    labels, landmarks = read_rows(path)
    return list(zip(labels, unseen_where_absent(landmarks)))


def _rate(values: list[bool | None]) -> tuple[float | None, int]:
    judged = [v for v in values if v is not None]
    return (round(float(np.mean(judged)), 3) if judged else None), len(judged)


def rule_rates(rows: list[tuple[str, np.ndarray]], exercise: str) -> dict:
    """Share of judged frames each rule passes, per label."""
    out: dict[str, dict] = {}
    for label in sorted({lab for lab, _ in rows}):
        bodies = [Body.from_landmarks(lm, aspect=ASPECT) for lab, lm in rows if lab == label]
        out[label] = {}
        for rule in RULES_BY_EXERCISE[exercise]:
            rate, n = _rate([judge(rule, b) for b in bodies])
            out[label][rule.name] = {"pass": rate, "judged": n, "of": len(bodies)}
    return out


def plank_agreement(rows) -> dict:
    """Frame-level: C should pass both hip rules, H fail hips_not_too_high, L fail hips_not_sagging."""
    rule = {r.name: r for r in RULES_BY_EXERCISE["plank"]}
    hits = {"C": [], "H": [], "L": []}
    for label, lm in rows:
        b = Body.from_landmarks(lm, aspect=ASPECT)
        high, low = judge(rule["hips_not_too_high"], b), judge(rule["hips_not_sagging"], b)
        if high is None or low is None:
            continue
        expected = {"C": high and low, "H": not high and low, "L": high and not low}[label]
        hits[label].append(bool(expected))
    return {label: round(float(np.mean(v)), 3) for label, v in hits.items() if v} | {
        "overall": round(float(np.mean(sum(hits.values(), []))), 3)}


def lunge_agreement(rows) -> dict:
    """Frame-level: C should keep the front knee behind the toes, L (knee over toe) should fail."""
    rule = next(r for r in RULES_BY_EXERCISE["lunge"] if r.name == "front_knee_behind_toes")
    hits = {"C": [], "L": []}
    for label, lm in rows:
        ok = judge(rule, Body.from_landmarks(lm, aspect=ASPECT))
        if ok is not None and label in hits:
            hits[label].append(ok if label == "C" else not ok)
    return {label: round(float(np.mean(v)), 3) for label, v in hits.items() if v} | {
        "overall": round(float(np.mean(sum(hits.values(), []))), 3),
        "judged": sum(len(v) for v in hits.values()), "rows": len(rows)}


def pushup_agreement(folder: Path) -> dict:
    """Sequence-level: a sequence is judged incorrect when any rule failed over it (phase from the elbow)."""
    result: dict[str, dict] = {}
    for label in ("correct", "incorrect"):
        verdicts, fired = [], {}
        for path in sorted((folder / label).glob("*.npy")):
            tracker = FormTracker("push_up")
            for lm in unseen_where_absent(read_sequence(path)):
                body = Body.from_landmarks(lm, aspect=ASPECT)
                side = body.near_side(("shoulder", "elbow", "wrist"))
                phase = START if body.angle(side, "shoulder", "elbow", "wrist") > 130 else END
                tracker.observe(body, phase)
            form = tracker.close()
            verdicts.append(not form.failed_rules)
            for name in form.failed_rules:
                fired[name] = fired.get(name, 0) + 1
        agree = [v if label == "correct" else not v for v in verdicts]
        result[label] = {"sequences": len(verdicts), "agreement": round(float(np.mean(agree)), 3) if agree else None,
                         "rules_failed": fired}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.form_agreement", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"no form-labelled data at {DATA}", file=sys.stderr)
        return 1
    plank = read_labelled_rows(DATA / "form-labelled-rows" / "plank_model" / "test.csv")
    lunge = read_labelled_rows(DATA / "form-labelled-rows" / "lunge_model" / "err.test.csv")
    report = {
        "plank": {"agreement": plank_agreement(plank), "pass_rates": rule_rates(plank, "plank")},
        "lunge": {"knee_over_toe_agreement": lunge_agreement(lunge), "pass_rates": rule_rates(lunge, "lunge")},
        "push_up": pushup_agreement(DATA / "pushup-sequences"),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
