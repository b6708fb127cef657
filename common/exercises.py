"""The exercise catalogue: everything the trainer knows about each exercise, one entry per exercise.

Adding an exercise means adding its `Exercise` entry here (names, colour, camera placement, the joints it is
counted with, its rep signal and timing, its form rules), its training data (offline/) and its tests. Code
elsewhere reads these entries; it holds no per-exercise table of its own. Form rules are data: each names
body measures (services/coach/form_rules.py computes them from the landmarks) and the range they must keep.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NONE = "none"
START, END = "start", "end"
PHASES = (START, END)

# When a form rule is judged, and how (see services/coach/form_tracker.py).
ANY = "any"          # in every phase (and through a hold)
POSTURE = "posture"  # must hold on most judged frames of its phase
REACH = "reach"      # must be reached on at least a couple of frames of its phase (depth, arms up ...)

DOWN = "down"        # a rep-signal joint: the direction straight down the picture from the middle joint


@dataclass(frozen=True)
class RepSignal:
    """Which joint angle (a-b-c, at b) swings with every rep, and on which side(s) it is read."""

    joints: tuple[str, str, str]   # DOWN as the first: the angle from the vertical
    sides: str                     # "near": the side turned to the camera; "both": mean of both; "min": smaller
    start_high: bool               # True when the angle is larger at the start phase than at the end phase


@dataclass(frozen=True)
class RepTiming:
    """How a phase sequence must look before it counts; all times in seconds of capture time."""

    min_phase_s: float = 0.10     # a new phase must persist this long ...
    min_phase_frames: int = 2     # ... and over this many frames before it counts as reached
    settle_s: float = 0.10        # getting into position: the first start must hold this long
    min_rep_s: float = 0.30       # a faster cycle is jitter around a phase boundary
    max_rep_s: float = 10.0       # a slower one is not a rep (walking away, resting at the bottom)
    max_gap_s: float = 1.5        # longer without a phase (no body, other exercise): forget the cycle
    min_range_deg: float = 20.0   # with a rep angle: a smaller swing is not a rep
    finish_return: float = 0.6    # at end of stream a rep in progress counts once the angle came back this far
    return_share: float = 0.2     # back within this share of the swing from the start angle = back at the start
    # The swing of a full rep: about the 10th percentile of the range of the reps counted on the training clips
    # (push-up 86, squat 72, lunge 84, crunch 13, jumping jack 139 degrees). A rep already under way when the
    # stream began counts only when the angle swings this far back to the start.
    full_range_deg: float = 70.0


@dataclass(frozen=True)
class Condition:
    """A body measure (by name, see services/coach/form_rules.MEASURES) and the range it must stay in."""

    measure: str
    low: float | None = None      # inclusive bounds; None = unbounded on that side
    high: float | None = None


@dataclass(frozen=True)
class FormRule:
    """One correction: when it is judged, what it checks, and what the coach says when it fails."""

    name: str
    phase: str                    # START, END or ANY
    kind: str                     # POSTURE or REACH
    cue: str
    conditions: tuple[Condition, ...]
    fail_share: float | None = None   # posture rules: share of a rep's frames that must fail (None: default)


@dataclass(frozen=True)
class Exercise:
    name: str
    display_name: str             # title on screen ("Squats")
    singular: str                 # spoken: "1 squat" ...
    plural: str                   # ... "10 squats"
    colour: str                   # charts and badges
    camera_advice: str            # where to put the camera
    view: str                     # "side" or "front": how the camera should see the trainee
    required_joints: tuple[str, ...]   # of one side: without them the coach neither counts nor corrects
    hold: bool = False            # timed (plank), not counted
    signal: RepSignal | None = None
    timing: RepTiming = field(default_factory=RepTiming)
    rules: tuple[FormRule, ...] = ()


# Order is the label order of the level-1 model (plus "none").
CATALOGUE: dict[str, Exercise] = {e.name: e for e in (
    Exercise(
        "jumping_jack", "Jumping jacks", "jumping jack", "jumping jacks", "#1fa463",
        "Face the camera, whole body in view.", "front",
        # Counted by the arms: a close camera (a laptop on a desk) cuts the hips.
        required_joints=("shoulder", "elbow"),
        # The arms swing from hanging down to overhead, measured from the vertical rather than from the hips;
        # the trainee stands upright, so it is the same angle whenever the hips are seen.
        signal=RepSignal((DOWN, "shoulder", "elbow"), "both", start_high=False),
        timing=RepTiming(min_rep_s=0.25, max_rep_s=6.0, min_range_deg=40.0, full_range_deg=135.0),
        rules=(
            FormRule("arms_straight", START, POSTURE, "Keep your arms straight",
                     (Condition("elbow_angle_min", low=120.0),)),          # 120-180 deg on the way down
            FormRule("feet_together_at_start", START, REACH, "Bring your feet back together",
                     (Condition("feet_spread", high=1.5),)),              # about shoulder width
            FormRule("arms_overhead", END, REACH, "Raise your arms above your head",
                     (Condition("wrists_above_nose", low=0.0),)),        # torso lengths above the nose
            FormRule("feet_wide_at_top", END, REACH, "Jump your feet wider",
                     (Condition("feet_spread", low=1.5, high=3.0),)),
        )),
    Exercise(
        "crunch", "Crunches", "crunch", "crunches", "#8e4fd6",
        "Side view, lying across the picture.", "side",
        required_joints=("shoulder", "hip", "knee"),
        # The trunk barely bends at the hip in a crunch; the head travels towards the knees, so measure that.
        signal=RepSignal(("nose", "hip", "knee"), "near", start_high=True),
        # Often held at the top for a breath; the hip angle swings little when seen from the side.
        timing=RepTiming(max_rep_s=15.0, min_range_deg=8.0, full_range_deg=13.0),
        rules=(
            # Shoulder->ear line: lying 20-30 deg, curled up 55-70 deg.
            FormRule("shoulders_down_at_start", START, REACH, "Lower your shoulders back to the floor",
                     (Condition("neck_lift_deg", high=40.0),)),
            FormRule("shoulders_raised_at_top", END, REACH, "Lift your head and shoulders higher",
                     (Condition("neck_lift_deg", low=45.0),)),
        )),
    Exercise(
        "lunge", "Lunges", "lunge", "lunges", "#e0474c",
        "Side view, whole body in view.", "side",
        required_joints=("hip", "knee"),
        # Either leg may be the front one, and both knees bend in a lunge: the more bent knee leads.
        signal=RepSignal(("hip", "knee", "ankle"), "min", start_high=True),
        timing=RepTiming(max_rep_s=12.0, full_range_deg=80.0),
        rules=(
            FormRule("torso_upright", ANY, POSTURE, "Keep your torso upright",
                     (Condition("torso_incline_deg", low=65.0),)),       # at most 25 deg of forward lean
            FormRule("knees_near_90", END, REACH, "Bend both knees to about 90 degrees",
                     (Condition("front_knee_deg", low=65.0, high=110.0), Condition("back_knee_deg", high=120.0))),
            FormRule("front_knee_behind_toes", END, POSTURE, "Keep your front knee behind your toes",
                     (Condition("front_knee_past_toe", high=-0.05),)),   # shin lengths: just behind the toes
        )),
    Exercise(
        "plank", "Plank", "plank", "planks", "#1aa3c4",
        "Side view, head to heels in view.", "side",
        required_joints=("shoulder", "hip"), hold=True,
        rules=(
            # Hip above (+) or below (-) the shoulder-ankle line, in shares of it (correct planks: ~0.09).
            FormRule("hips_not_too_high", ANY, POSTURE, "Lower your hips into a straight line",
                     (Condition("hip_offset", high=0.20),)),
            FormRule("hips_not_sagging", ANY, POSTURE, "Lift your hips, don't let them sag",
                     (Condition("hip_offset", low=0.0),)),
        )),
    Exercise(
        "squat", "Squats", "squat", "squats", "#3b6ef5",
        "Side view (or three-quarter), feet in view.", "side",
        required_joints=("shoulder", "hip", "knee"),
        # Seen from the front one knee can look straight in the picture while both bend: the more bent one leads.
        signal=RepSignal(("hip", "knee", "ankle"), "min", start_high=True),
        rules=(
            FormRule("head_up", ANY, POSTURE, "Keep your head up",
                     (Condition("head_down_deg", high=45.0),)),          # ear->nose at most this far down
            # Knees a little past the toes is normal in a deep squat (correct clips: up to 0.4 shins).
            FormRule("squat_knees_behind_toes", END, POSTURE, "Keep your knees behind your toes",
                     (Condition("near_knee_past_toe", high=0.45),)),
        )),
    Exercise(
        "push_up", "Push-ups", "push-up", "push-ups", "#f08a24",
        "Side view, head to feet in view.", "side",
        required_joints=("shoulder", "elbow", "wrist", "hip"),
        signal=RepSignal(("shoulder", "elbow", "wrist"), "near", start_high=True),
        # Real push-ups swing the elbow 50-130 deg; a 30 deg dip at the top is the classifier flickering. A
        # push-up cut off on the way up counts only near straight arms: push-up_11 (training) ends 60 % of the
        # way up and is labelled without that rep; squats and crunches cut as late are labelled with it.
        timing=RepTiming(min_range_deg=45.0, full_range_deg=85.0, finish_return=0.75),
        rules=(
            # Shoulder-hip-ankle angle (labelled correct ones: >= 168); sagging shows on part of a rep only.
            FormRule("body_straight", ANY, POSTURE, "Keep your body in a straight line",
                     (Condition("body_line_deg", low=165.0),), fail_share=0.2),
            FormRule("elbows_to_90", END, REACH, "Go lower, elbows to 90 degrees",
                     (Condition("near_elbow_deg", high=100.0),)),
        )),
)}

EXERCISES = tuple(CATALOGUE)
HOLDS = frozenset(name for name, e in CATALOGUE.items() if e.hold)
COUNTED = tuple(name for name, e in CATALOGUE.items() if not e.hold)


def get(name: str) -> Exercise | None:
    return CATALOGUE.get(name)


def is_hold(name: str) -> bool:
    return name in HOLDS


def display_name(name: str) -> str:
    """On-screen name; "—" for none, a readable fallback for a name this build does not know."""
    if name == NONE:
        return "—"
    entry = CATALOGUE.get(name)
    return entry.display_name if entry else name.replace("_", " ").capitalize()


def noun(name: str, n: int = 1) -> str:
    """"squat" for one, "squats" for any other number (spoken and written)."""
    entry = CATALOGUE.get(name)
    if entry is None:
        return name.replace("_", " ")
    return entry.singular if n == 1 else entry.plural


def count_phrase(name: str, n: int) -> str:
    """"1 squat", "10 squats"."""
    return f"{n} {noun(name, n)}"
