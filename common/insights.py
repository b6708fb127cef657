"""Plain-English observations about one session: depth, tempo and form across its sets."""
from __future__ import annotations

import statistics


DEPTH_DROP = 0.15       # range of motion of the last set this much below the first: "depth dropped"
TEMPO_CHANGE = 0.25     # mean rep duration of a set this much off the first set: "tempo slowed / sped up"
SCORE_CHANGE = 10.0     # form score points between the first and last set
MIN_REPS = 2            # sets with fewer measured reps say nothing reliable

DEPTH_WORD = {"squat": "depth", "lunge": "depth", "push_up": "depth", "crunch": "range",
              "jumping_jack": "arm swing"}
NAMES = {"jumping_jack": "jumping jack", "crunch": "crunch", "lunge": "lunge", "plank": "plank", "squat": "squat",
         "push_up": "push-up"}


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if len(values) >= MIN_REPS else None


def insights(sets: list[dict], reps: list[dict], cue_counts: dict[str, int]) -> list[str]:
    """`reps` carry `set_index` (position of their set in `sets`)."""
    out: list[str] = []
    by_exercise: dict[str, list[int]] = {}
    for i, s in enumerate(sets):
        if s["reps"]:
            by_exercise.setdefault(s["exercise"], []).append(i)
    for exercise, indexes in by_exercise.items():
        name = NAMES.get(exercise, exercise)
        per_set = {i: [r for r in reps if r.get("set_index") == i] for i in indexes}
        best = max(indexes, key=lambda i: sets[i]["reps"])
        if len(indexes) > 1:
            out.append(f"Best {name} set: {sets[best]['reps']} reps in set {sets[best]['number']}.")
            first, last = indexes[0], indexes[-1]
            rom_first = _mean([r["range_of_motion"] for r in per_set[first]])
            rom_last = _mean([r["range_of_motion"] for r in per_set[last]])
            if rom_first and rom_last is not None and rom_last < (1 - DEPTH_DROP) * rom_first:
                out.append(f"Your {name} {DEPTH_WORD.get(exercise, 'range')} dropped in the last set "
                           f"({rom_first:.0f} to {rom_last:.0f} degrees).")
            tempo_first = _mean([r["duration_s"] for r in per_set[first]])
            for i in indexes[1:]:
                tempo = _mean([r["duration_s"] for r in per_set[i]])
                if tempo_first and tempo is not None:
                    change = tempo / tempo_first - 1
                    if abs(change) >= TEMPO_CHANGE:
                        word = "slowed down" if change > 0 else "sped up"
                        out.append(f"{name.capitalize()} tempo {word} by {abs(change) * 100:.0f} % in set "
                                   f"{sets[i]['number']}.")
            score_first = _mean([r["form_score"] for r in per_set[first]])
            score_last = _mean([r["form_score"] for r in per_set[last]])
            if score_first is not None and score_last is not None:
                if score_last <= score_first - SCORE_CHANGE:
                    out.append(f"Your {name} form slipped in the last set ({score_first:.0f} to {score_last:.0f}).")
                elif score_last >= score_first + SCORE_CHANGE:
                    out.append(f"Your {name} form improved through the session ({score_first:.0f} to "
                               f"{score_last:.0f}).")
        scores = [r["form_score"] for r in reps if r["exercise"] == exercise and r["form_score"] is not None]
        if scores and min(scores) >= 90 and len(scores) >= MIN_REPS:
            out.append(f"Clean {name} form: every rep scored 90 or more.")
    if cue_counts:
        text, n = max(cue_counts.items(), key=lambda kv: kv[1])
        if n >= 2:
            out.append(f"Most frequent correction: \"{text}\" ({n} times).")
    holds = [s for s in sets if s["hold_seconds"]]
    if holds:
        longest = max(holds, key=lambda s: s["hold_seconds"])
        out.append(f"Longest {NAMES.get(longest['exercise'], longest['exercise'])}: "
                   f"{longest['hold_seconds']:.0f} seconds.")
    return out
