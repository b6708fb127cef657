"""Collects form-rule verdicts over one rep (or one stretch of a hold): which cues fire, and the rep's score."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.exercises import ANY, END, POSTURE, REACH, START, FormRule
from services.coach.body import Body
from services.coach.form_rules import RULES_BY_EXERCISE, judge


@dataclass(frozen=True)
class Aggregation:
    posture_fail_share: float = 0.4   # a posture rule fails the rep when this share of its judged frames fail ...
    posture_min_frames: int = 4       # ... and at least this many frames failed (one bad frame is noise)
    reach_min_frames: int = 2         # a reach rule passes once this many frames of its phase reached it
    reach_min_judged: int = 3         # ... and can only fail after this many judged frames


@dataclass
class _Tally:
    judged: int = 0
    failed: int = 0


@dataclass
class RepForm:
    """The verdict on one rep."""

    score: float | None               # 0..100, None when no rule could be judged
    cues: list[str] = field(default_factory=list)          # every correction of the rep
    failed_rules: list[str] = field(default_factory=list)
    late_cues: list[str] = field(default_factory=list)     # corrections found only now, at the rep's end


class FormTracker:
    """One exercise's form over the current rep; the processor closes it when the rep is counted."""

    def __init__(self, exercise: str, aggregation: Aggregation | None = None):
        self.exercise = exercise
        self.rules = RULES_BY_EXERCISE.get(exercise, ())
        self.agg = aggregation or Aggregation()
        self.reset()

    def reset(self) -> None:
        self._tally: dict[str, _Tally] = {r.name: _Tally() for r in self.rules}
        self._reach_verdict: dict[str, bool] = {}
        self._fired: list[FormRule] = []
        self._phase = ""

    def observe(self, body: Body, phase: str, live: bool = True) -> list[FormRule]:
        """Judge one frame; returns rules that just failed for this rep (only when `live`: in a rep or a hold)."""
        fired: list[FormRule] = []
        if self._phase and phase != self._phase:
            fired += self._judge_reach(self._phase)
        self._phase = phase or self._phase
        for rule in self.rules:
            if rule.phase not in (ANY, phase):
                continue
            ok = judge(rule, body)
            if ok is None:
                continue
            tally = self._tally[rule.name]
            tally.judged += 1
            tally.failed += 0 if ok else 1
            if rule.kind == POSTURE and live and self._posture_failed(rule, tally) and rule not in self._fired:
                self._fired.append(rule)
                fired.append(rule)
        return fired if live else []

    def close(self) -> RepForm:
        """The rep is over (counted, or a hold window ended): score it and start a new one."""
        late: list[FormRule] = []
        for phase in (START, END):
            late += self._judge_reach(phase)
        parts: list[float] = []
        failed: list[str] = []
        for rule in self.rules:
            tally = self._tally[rule.name]
            if rule.kind == POSTURE and tally.judged:
                parts.append(1.0 - tally.failed / tally.judged)
                if self._posture_failed(rule, tally):
                    failed.append(rule.name)
            elif rule.kind == REACH and rule.name in self._reach_verdict:
                parts.append(1.0 if self._reach_verdict[rule.name] else 0.0)
                if not self._reach_verdict[rule.name]:
                    failed.append(rule.name)
        score = round(100.0 * sum(parts) / len(parts), 1) if parts else None
        form = RepForm(score, [r.cue for r in self._fired], failed, [r.cue for r in late])
        self.reset()
        return form

    # ------------------------------------------------------------------ internals
    def _posture_failed(self, rule: FormRule, tally: _Tally) -> bool:
        return (tally.failed >= self.agg.posture_min_frames
                and tally.failed >= self._fail_share(rule) * tally.judged)

    def _fail_share(self, rule: FormRule) -> float:
        return rule.fail_share if rule.fail_share is not None else self.agg.posture_fail_share

    def _judge_reach(self, phase: str) -> list[FormRule]:
        """The phase was left: reach rules of it that never got there fail (once per rep)."""
        fired: list[FormRule] = []
        for rule in self.rules:
            if rule.kind != REACH or rule.phase != phase or rule.name in self._reach_verdict:
                continue
            tally = self._tally[rule.name]
            reached = tally.judged - tally.failed
            if reached >= self.agg.reach_min_frames:
                self._reach_verdict[rule.name] = True
            elif tally.judged >= self.agg.reach_min_judged:
                self._reach_verdict[rule.name] = False
                if rule not in self._fired:
                    self._fired.append(rule)
                    fired.append(rule)
        return fired
