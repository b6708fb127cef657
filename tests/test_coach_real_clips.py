"""Real labelled clips through the shipped classifier and the coach, in-process on the cached poses: one clip of
each exercise variant the data has, recognised and with the exercise given, at the clip's rate and at 10 frames/s,
and clips of other activity."""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest

from common.config import Settings
from common.history import HistoryWriter
from offline import clip_stream
from offline.coach_eval import classified, run_clip
from offline.evaluate import prediction
from services.coach.processor import CoachProcessor

# (clip, what it shows). Counts must match the label exactly (planks: time within 1 s); the labels of these
# clips were checked by eye.
VARIANTS = [
    ("WorkoutTracker/squat_19.mp4", "squat seen from the front"),
    ("aiTrainer/squats.mp4", "squat, portrait video"),
    ("PushUp-Counter/pushup2.mp4", "push-ups side-on"),
    ("Sumukh0504__prime-fitness/incline_pushup.mp4", "incline push-ups, tilted camera"),
    ("lightweight-human-pose-e/wall_push_ups.mp4", "wall push-ups"),
    ("Subhadip313__Fitness-Guide-360/situps.mp4", "full sit-ups"),
    ("THChen2002__medaipipe/situps.mp4", "crunches, hands behind the head, three-quarter view"),
    ("Fitness/crunches.mp4", "bench crunches, a partner holds the feet, moving camera"),
    ("guilleccc__express-workout-rn/lunge.mp4", "static forward lunges"),
    ("Sumukh0504__prime-fitness/lunges.mp4", "alternating lunges seen from the front"),
    ("rnhrn__exercises/lunges.mp4", "reverse lunges, three-quarter view"),
    ("409416541__Independent-Study/Jumping_Jacks.mp4", "jumping jacks at home, front view"),
    ("Fitness/plank.mp4", "forearm plank, side-on"),
    ("summerobert__cestazazdravim/plank.mp4", "high plank, low frame rate"),
    ("TechBusa__AmilaFitnessHub/plank.mp4", "forearm plank, side-on, then head-on after a cross-fade"),
]
# Other activity that looks like an exercise: nothing may be counted.
OTHERS = ["videos/starfish.mp4", "409416541__Independent-Study/Leg_raises_sample.mp4",
          "Fitness/reverse-crunches.mp4"]


@pytest.fixture(scope="module")
def labels(clip_labels):
    return clip_labels


@pytest.fixture(scope="module")
def cascade():
    from services.classifier.cascade import Cascade
    return Cascade.load(Settings().models_dir)


def analyse(cascade, label, given: bool, max_fps: float = 0.0) -> dict:
    # The landmark cache (warmed by .ci/run at the clip's rate; BlazePose once otherwise). With `max_fps`, BlazePose
    # tracking at that rate, as the live services do.
    clip = clip_stream.load(label, max_fps=max_fps)
    with tempfile.TemporaryDirectory() as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "w.sqlite3"), Settings())
        messages = classified(clip, label.file, cascade, label.exercise if given else "")
        summary, _ = run_clip(processor, label.file, clip, messages)
    return summary


@pytest.mark.parametrize("given", [False, True], ids=["recognised", "exercise-given"])
@pytest.mark.parametrize("name, what", VARIANTS)
def test_each_variant_is_counted(cascade, labels, name, what, given):
    label = labels[name]
    summary = analyse(cascade, label, given)
    exercise, reps, hold = prediction(summary)
    assert exercise == label.exercise, (what, summary["totals"])
    if label.reps is not None:
        assert reps == label.reps, (what, summary["totals"])
    if label.hold_seconds is not None:
        assert abs(hold - label.hold_seconds) <= 1.0, (what, summary["totals"])
    assert summary["segments"] and all(s["exercise"] in summary["totals"] for s in summary["segments"])


@pytest.mark.parametrize("name", OTHERS)
def test_other_activity_counts_nothing(cascade, labels, name):
    summary = analyse(cascade, labels[name], given=False)
    assert sum(t["reps"] for t in summary["totals"].values()) == 0, summary["totals"]


def away_and_back(clip: clip_stream.Clip, away_s: float) -> tuple[clip_stream.Clip, float]:
    """The clip, then `away_s` seconds of an empty room (the trainee walked out), then the clip again; and the time
    the trainee is back."""
    dt = 1.0 / clip.fps
    n_away = round(away_s * clip.fps)
    nobody = np.full((n_away, 33, 4), np.nan, np.float32)
    second = clip.t[-1] + dt * (n_away + 1)
    return (dataclasses.replace(
        clip, t=np.r_[clip.t, clip.t[-1] + dt * np.arange(1, n_away + 1), clip.t + second],
        landmarks=np.concatenate([clip.landmarks, nobody, clip.landmarks]),
        dark_share=np.r_[clip.dark_share, np.zeros(n_away), clip.dark_share],
        bright_share=np.r_[clip.bright_share, np.zeros(n_away), clip.bright_share]), float(second))


@pytest.mark.parametrize("fps", [None, 10.0], ids=["clip-rate", "10fps"])
@pytest.mark.parametrize("name", ["PushUp-Counter/pushup2.mp4", "WorkoutTracker/squat_19.mp4"])
def test_a_trainee_who_walks_out_and_comes_back_is_counted_on_from_the_same_number(cascade, labels, name, fps):
    label = labels[name]
    both, back = away_and_back(clip_stream.load(label), away_s=6.0)
    clip = clip_stream.resample(both, fps)
    with tempfile.TemporaryDirectory() as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "w.sqlite3"), Settings())
        summary, events = run_clip(processor, label.file, clip, classified(clip, label.file, cascade))
    exercise, reps, _ = prediction(summary)
    assert exercise == label.exercise and reps == 2 * label.reps, summary["totals"]
    rep_times = [t for t, kind, *_ in events if "rep" in str(kind).split(",")]
    assert sum(t < back for t in rep_times) == label.reps     # nothing counted while the room was empty


@pytest.mark.parametrize("given", [False, True], ids=["recognised", "exercise-given"])
@pytest.mark.parametrize("name, what", [v for v in VARIANTS if "plank" not in v[0]])
def test_each_variant_at_10_frames_a_second_is_within_one_rep(cascade, labels, name, what, given):
    """A trainee on a busy machine gets 10 frames/s: the count stays within one rep of the label."""
    label = labels[name]
    summary = analyse(cascade, label, given, max_fps=10.0)
    exercise, reps, _ = prediction(summary)
    assert exercise == label.exercise and abs(reps - label.reps) <= 1, (what, summary["totals"])


@pytest.mark.parametrize("name", ["409416541__Independent-Study/Jumping_Jacks.mp4",
                                  "Subhadip313__Fitness-Guide-360/situps.mp4"])
def test_a_set_is_counted_on_when_recognition_loses_it_midway(cascade, labels, name):
    """Recognition says "none" from the middle of the set on (as on a camera view the model never saw): the coach
    counts the set to its end, rep by rep, and shows its exercise and phase while it goes on."""
    label = labels[name]
    clip = clip_stream.load(label)
    messages = list(classified(clip, label.file, cascade))
    named = [m.ts_capture for m in messages if m.exercise == label.exercise]
    midway = (named[0] + float(clip.t[-1])) / 2
    lost = [dataclasses.replace(m, exercise="none", phase="", phase_conf=0.0) if m.ts_capture >= midway else m
            for m in messages]   # as the classifier says it: no phase without an exercise
    shown = {}

    def watched():
        for m in lost:
            yield m
            session = processor.sessions[m.session]
            shown[round(m.ts_capture, 2)] = (session.exercise, session.phase in ("start", "end"))
    with tempfile.TemporaryDirectory() as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "w.sqlite3"), Settings())
        summary, events = run_clip(processor, label.file, clip, watched())
    exercise, reps, _ = prediction(summary)
    assert exercise == label.exercise and reps == label.reps, summary["totals"]
    late = [t for t, kind, *_ in events if "rep" in str(kind).split(",") and t >= midway]
    assert len(late) >= 2 and all(shown[t] == (label.exercise, True) for t in late)


def back_to_back(first: clip_stream.Clip, a: tuple[float, float], second: clip_stream.Clip,
                 b: tuple[float, float]) -> clip_stream.Clip:
    """`first` from a[0] to a[1] s, then at once `second` from b[0] to b[1] s (clips of one picture size)."""
    ka = (first.t >= a[0]) & (first.t <= a[1])
    kb = (second.t >= b[0]) & (second.t <= b[1])
    ta = first.t[ka] - a[0]
    tb = second.t[kb] - b[0] + ta[-1] + 1 / first.fps
    return dataclasses.replace(
        first, t=np.r_[ta, tb], landmarks=np.concatenate([first.landmarks[ka], second.landmarks[kb]]),
        dark_share=np.r_[first.dark_share[ka], second.dark_share[kb]],
        bright_share=np.r_[first.bright_share[ka], second.bright_share[kb]])


@pytest.mark.parametrize("first, a, second, b", [
    ("lightweight-human-pose-e/squats.mp4", (10.0, 28.0), "lightweight-human-pose-e/lunges.mp4", (4.0, 28.0)),
    ("Subhadip313__Fitness-Guide-360/situps.mp4", (0.0, 18.0), "Fitness/lunges.mp4", (0.0, 18.0)),
], ids=["squats-then-lunges", "sit-ups-then-lunges"])
def test_a_set_that_turns_straight_into_another_exercise_counts_each_as_alone(cascade, labels, first, a, second, b):
    """No pause between the sets: the first set must not go on into the second (squats and lunges both bend the
    knees; a sit-up counter sees a trunk bend in a standing lunge too), nor take its first rep."""
    one, two = labels[first], labels[second]
    alone = {label.exercise: prediction(analyse(cascade, label, given=False))[1] for label in (one, two)}
    clip = back_to_back(clip_stream.load(one), a, clip_stream.load(two), b)
    with tempfile.TemporaryDirectory() as tmp:
        processor = CoachProcessor(HistoryWriter(Path(tmp) / "w.sqlite3"), Settings())
        summary, _ = run_clip(processor, "back-to-back", clip, classified(clip, "back-to-back", cascade))
    counted = {exercise: totals["reps"] for exercise, totals in summary["totals"].items() if totals.get("reps")}
    assert counted == alone, (counted, alone)
