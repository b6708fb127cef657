"""The exercise catalogue: everything the trainer knows about each exercise, one entry per exercise.

Adding an exercise means adding its `Exercise` entry here (names, colour, camera placement, the joints it is
counted with, the signals that carry its reps, its form rules), its training data (offline/) and its tests. Code
elsewhere reads these entries; it holds no per-exercise table of its own. Form rules are data: each names
body measures (services/coach/form_rules.py computes them from the landmarks) and the range they must keep.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

NONE = "none"
START, END = "start", "end"
PHASES = (START, END)

# When a form rule is judged, and how (see services/coach/form_tracker.py).
ANY = "any"          # in every phase (and through a hold)
POSTURE = "posture"  # must hold on most judged frames of its phase
REACH = "reach"      # must be reached on at least a couple of frames of its phase (depth, arms up ...)

@dataclass(frozen=True)
class RepSignal:
    """One signal a rep counter follows: a body measure (common/rep_signals.py), or a weighted blend of
    several, each divided by its scale so that they add up in one unit. A rep is a full swing of the signal
    away from the start position and back (services/coach/movement_counter.py)."""

    measures: tuple[tuple[str, float, float], ...]   # (measure, weight, scale): signal = sum(w * value / scale)
    start_high: bool              # the signal is larger in the start position than at the far end
    prior_range: float            # a typical full swing, in signal units, until this trainee's reps calibrate it
    min_swing: float              # a smaller swing is never a rep (fidgeting, tracking noise)
    min_rep_s: float              # a faster swing is a tracking glitch
    max_rep_s: float              # a slower one is not a rep of this exercise (sitting down, walking off)
    # A fallback's reps count only on a frame where the exercise's other signals are unseen (a close-up that cuts
    # the torso, and with it the hip height, off the picture): it never adds a rep they see as none.
    fallback: bool = False


# Squats and lunges drop the hips and bend the knees. Seen from the front the knee angle in the picture barely
# changes (the knee comes towards the camera) while the hip drop shows in every view; the knee angle steadies it
# where the torso, by which the hip height is measured, is seen poorly. Units: a knee swing of 80 deg or a hip
# drop of 40 % of the torso is one unit.
LEG_BLEND = (("knee_angle", 0.3, 80.0), ("hip_height", 0.7, 40.0))
# Where the torso is not seen at all (a tutorial cuts to the legs mid-rep), the knee alone finishes the rep (with
# the squat's shortest rep; lunges take their own).
KNEE_FALLBACK = RepSignal((("knee_angle", 1.0, 1.0),), start_high=True, prior_range=80.0, min_swing=40.0,
                          min_rep_s=0.3, max_rep_s=12.0, fallback=True)


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
class RepGate:
    """Over a rep (or a window of motion), a body measure of common/rep_signals must swing at least `min_swing`
    and at most `max_swing`, and/or never go below `floor`, and/or get below `ceiling`, and/or get up to `reach`,
    and/or never get above `roof` (judged on its 10th and 90th percentiles: a glitching frame or two never
    decides), and/or be below `mostly_below` on at least half of the frames it was seen, and/or be seen on at
    least `seen_share` of the frames."""

    measure: str
    min_swing: float | None = None
    max_swing: float | None = None
    floor: float | None = None
    ceiling: float | None = None
    reach: float | None = None
    seen_share: float | None = None
    roof: float | None = None
    mostly_below: float | None = None

    def passes(self, values: list[float], frames: int) -> bool:
        """`values`: the measure where it was seen, of `frames` frames. Seen on less than half of them (a close-up
        cuts the legs): no verdict, it passes, unless it had to be seen on `seen_share` of them."""
        return self.verdict(values, frames) is not False

    def verdict(self, values: list[float], frames: int) -> bool | None:
        """As `passes`, but None where there is no verdict (the measure seen on less than half of the frames)."""
        if self.seen_share is not None and len(values) < self.seen_share * frames:
            return False
        if len(values) < max(3, frames // 2):
            return None
        ordered = sorted(values)
        low, high = ordered[len(ordered) // 10], ordered[-1 - len(ordered) // 10]
        if self.min_swing is not None and high - low < self.min_swing:
            return False
        if self.max_swing is not None and high - low > self.max_swing:
            return False
        if self.ceiling is not None and low > self.ceiling:
            return False
        if self.reach is not None and high < self.reach:
            return False
        if self.roof is not None and high > self.roof:
            return False
        if self.mostly_below is not None and ordered[len(ordered) // 2] >= self.mostly_below:
            return False
        return self.floor is None or low >= self.floor


# Squats, lunges and jumping jacks are done on the feet: somewhere in a window the hips are well above the lower
# ankle (over reps, the 90th percentile of hip_height: squats >= 93 in 95 % of them, lunges >= 105, jumping jacks
# >= 135 % of the torso). Sitting up on the floor (a sit-up's top) keeps them near the feet.
STANDING = RepGate("hip_height", reach=60.0)
TORSO_SEEN = RepGate("torso_incline", seen_share=0.5)
# Hands that carry the body are not above the shoulders (wrist_height over any 2.5 s window of a push-up clip:
# 90th percentile <= 9 % of the torso, walls and steps included). Hands behind the head are (sit-ups on a bench
# seen from the feet: >= 50 % on every window).
HANDS_CARRY = RepGate("wrist_height", roof=30.0)
# Over a rep, the hands are seen with the torso they carry: a wrist, a shoulder and a hip together on half of its
# frames (push-up reps of the clips: on >= 78 % of them; at 10 frames/s >= 93 %). Where BlazePose hops between
# people (a group at a laptop, upper bodies only), the arm it bends is seen on one frame and the torso on another
# (28 % together over such a "rep").
HANDS_WITH_TORSO = replace(HANDS_CARRY, seen_share=0.5)


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
    # The signals that carry its reps, each followed by its own counter; the exercise's count is the highest
    # of them (a sit-up bends at the hip, a crunch curls the head: either is a rep).
    signals: tuple[RepSignal, ...] = ()
    range_measure: str = ""       # the joint angle whose swing over a rep is its "range of motion" (degrees)
    # What every rep of it does, whatever the view (rep_signals measures over the rep; unseen: no verdict): a rep
    # that does not is another movement the same joints make (high knees bend the knees but keep the hips up).
    rep_gates: tuple[RepGate, ...] = ()
    # What every window of motion of this exercise shows, whatever the camera (judged like a rep gate over the
    # recogniser's window): an answer of the window model that breaks one is not taken.
    window_posture: tuple[RepGate, ...] = ()
    # A hold (plank) is timed only while none of these fails (form_rules measures on the frame; a measure the view
    # does not show gives no verdict): a plank, not kneeling on all fours.
    hold_posture: tuple[Condition, ...] = ()
    rules: tuple[FormRule, ...] = ()


# Order is the label order of the level-1 model (plus "none").
CATALOGUE: dict[str, Exercise] = {e.name: e for e in (
    Exercise(
        "jumping_jack", "Jumping jacks", "jumping jack", "jumping jacks", "#1fa463",
        "Face the camera, whole body in view.", "front",
        # Counted by the arms: a close camera (a laptop on a desk) cuts the hips.
        required_joints=("shoulder", "elbow"),
        # The arms swing from hanging down to overhead (degrees from the vertical, both arms).
        signals=(RepSignal((("arm_elevation", 1.0, 1.0),), start_high=False, prior_range=110.0, min_swing=50.0,
                           min_rep_s=0.3, max_rep_s=4.0),),
        range_measure="arm_elevation",
        # The legs jump out and in with nearly straight knees, the feet close to the floor (hips move < 110 % of the
        # torso over a rep; real jacks: 99th percentile 99): a star jump leaps, a burpee squats.
        rep_gates=(RepGate("knee_angle", floor=120.0), RepGate("hip_height", max_swing=110.0)),
        window_posture=(STANDING,),
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
        # A crunch curls the head and shoulders towards the knees while the trunk barely bends at the hip; a
        # sit-up bends at the hip. Each has its own signal; either completes a rep.
        signals=(RepSignal((("head_curl", 1.0, 1.0),), start_high=True, prior_range=30.0, min_swing=10.0,
                           min_rep_s=0.4, max_rep_s=10.0),
                 RepSignal((("trunk_bend", 1.0, 1.0),), start_high=True, prior_range=30.0, min_swing=10.0,
                           min_rep_s=0.4, max_rep_s=10.0)),
        range_measure="head_curl",
        # The feet stay down (hip height above the lower ankle moves < 60 % of the torso; real crunches: 95th
        # percentile 35): leg raises lift them. And it starts lying back: the trunk within 60 deg of the floor on
        # part of the rep (its 10th percentile; crunch and sit-up reps of the clips: <= 48 at clip rate and at 10
        # frames/s). Sitting up and talking (80-85), standing (high knees), or a group at a desk bend at the hip too.
        rep_gates=(RepGate("hip_height", max_swing=60.0), RepGate("trunk_rise", ceiling=60.0)),
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
        # A lunge steps, sinks and rises: never under 0.9 s (the clips': 1.3-2.5 s). Running in place or high
        # knees bend a knee and bob the hips every 0.7 s.
        signals=(RepSignal(LEG_BLEND, start_high=True, prior_range=1.0, min_swing=0.4, min_rep_s=0.9,
                           max_rep_s=12.0),
                 replace(KNEE_FALLBACK, min_rep_s=0.9)),
        range_measure="knee_angle",
        rep_gates=(RepGate("hip_height", min_swing=15.0),),   # the hips drop (in % of the torso)
        window_posture=(STANDING,),
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
        # Long and low: the trunk far from upright (kneeling up is not a plank) and long from shoulders to knees
        # and feet (on all fours or sitting back, the hips fold to ~90 deg). Seen head-on these cannot be
        # measured: no verdict then. Held up by the arms: the upper arm points down from the shoulder (planks of
        # the clips: >= 0.90 on 95 % of their frames), not level with it as when lying on the back (leg raises: ~0).
        hold_posture=(Condition("trunk_rise_deg", high=60.0), Condition("hip_fold_deg", low=130.0),
                      Condition("body_line_deg", low=115.0), Condition("upper_arm_drop", low=0.6)),
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
        signals=(RepSignal(LEG_BLEND, start_high=True, prior_range=1.0, min_swing=0.4, min_rep_s=0.3,
                           max_rep_s=12.0),
                 KNEE_FALLBACK),
        range_measure="knee_angle",
        rep_gates=(RepGate("hip_height", min_swing=15.0),),   # the hips drop (in % of the torso)
        window_posture=(STANDING,),
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
        # The elbow of the arm turned to the camera: ~170 deg at the top, 60-90 at the bottom.
        signals=(RepSignal((("elbow_angle", 1.0, 1.0),), start_high=True, prior_range=90.0, min_swing=30.0,
                           min_rep_s=0.4, max_rep_s=10.0),),
        range_measure="elbow_angle",
        # The body leans into it: the trunk under 80 deg from lying during the rep (floor push-ups: 0-30, on a step
        # ~25, against a wall 63-67). Standing upright (talking with the hands, curls) bends the elbows too.
        # And the torso is seen: a shoulder and a hip (head-on too, where BlazePose sees the hips behind the
        # shoulders). Push-up clips: on every frame. People at a desk or a laptop, cut at the chest, bend their
        # elbows too (a group at a laptop: hips seen on 25 % of the frames, on none for seconds).
        # And the hands carry the body: never above the shoulders (sit-ups with the hands behind the head).
        # Most of a push-up leans (the trunk's median over a rep: floor 1-17 deg above the horizontal, incline 26-28,
        # wall 72-74); standing upright is 88-90. A "rep" of bent elbows while talking upright that ends on the first
        # frames of a plank (a cut in an edited video, or a trainee getting down) leans on only a few of its frames.
        rep_gates=(RepGate("trunk_rise", ceiling=80.0, mostly_below=85.0), TORSO_SEEN, HANDS_WITH_TORSO),
        window_posture=(RepGate("trunk_rise", ceiling=80.0), TORSO_SEEN, HANDS_CARRY),
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
