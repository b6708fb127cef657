"""Can the coach see the trainee properly? Lighting, framing and camera placement, with plain advice."""
from __future__ import annotations

from dataclasses import dataclass

from common.exercises import CATALOGUE
from services.coach.body import Body


# Lighting alone says little: the labelled clips include a white studio (95 % blown-out pixels) and dark gyms
# (85 % crushed) where every pose is found. So lighting is blamed only when the body is not seen properly.
SETUP_LIMITS = {
    "too_dark_share": 0.85,        # share of crushed-black pixels above which the picture is too dark
    # Light behind the trainee hides them only as a dark figure against a blown-out background: a white wall
    # or a title card is as bright but has no dark figure in it, and nothing to advise about the light.
    "too_bright_share": 0.40,      # share of blown-out pixels (a window or lamp behind the trainee) ...
    "silhouette_dark_share": 0.08,  # ... with at least this share of crushed-black pixels (the trainee)
    # Shoulder width / torso length: ~0.2 seen from the side, ~0.7 facing the camera.
    "facing_min_ratio": 0.60,      # side-view exercises: above this the trainee faces the camera
    "side_max_ratio": 0.30,        # front-view exercises: below this the trainee stands side-on
    "persist_s": 1.5,              # a problem must last this long before it is shown or said
}

DEFAULT_REQUIRED = ("shoulder", "hip")

TEXTS = {
    "too_dark": "It's too dark here. Turn on a light.",
    "too_bright": "Too much light behind you. Face the light instead.",
    "no_body": "Step into the picture so I can see you.",
    "body_cut": "Move back so your whole body is in the picture.",
    "feet": "Step back so I can see your feet.",
}


@dataclass(frozen=True)
class SetupProblem:
    kind: str           # too_dark, too_bright, no_body, body_cut, feet, camera
    text: str
    blocking: bool      # True: the coach cannot count or correct while it lasts


def body_visible(body: Body | None, exercise: str) -> bool:
    """Whether the joints this exercise is counted with are seen (on one side at least)."""
    if body is None:
        return False
    entry = CATALOGUE.get(exercise)
    return body.any_side_seen(entry.required_joints if entry else DEFAULT_REQUIRED)


def check_lighting(dark_share: float, bright_share: float, body_seen: bool = False) -> list[SetupProblem]:
    """Lighting problems, only when they matter: `body_seen` = the coach sees the body well anyway."""
    if body_seen:
        return []
    problems = []
    if dark_share > SETUP_LIMITS["too_dark_share"]:
        problems.append(SetupProblem("too_dark", TEXTS["too_dark"], False))
    if bright_share > SETUP_LIMITS["too_bright_share"] and dark_share > SETUP_LIMITS["silhouette_dark_share"] \
            and dark_share <= SETUP_LIMITS["too_dark_share"]:
        problems.append(SetupProblem("too_bright", TEXTS["too_bright"], False))
    return problems


def check_framing(body: Body | None, exercise: str) -> list[SetupProblem]:
    if body is None:
        return [SetupProblem("no_body", TEXTS["no_body"], True)]
    if not body_visible(body, exercise):
        return [SetupProblem("body_cut", TEXTS["body_cut"], True)]
    # Feet strictly inside the picture: advice errs on the side of seeing the whole body.
    if exercise != "crunch" and not body.any_side_seen(("ankle",), margin=0.0):
        return [SetupProblem("feet", TEXTS["feet"], False)]
    return []


def check_camera(body: Body | None, exercise: str) -> list[SetupProblem]:
    """Advice when the trainee faces the camera for a side-view exercise (or the other way round)."""
    entry = CATALOGUE.get(exercise)
    if body is None or entry is None or not body.any_side_seen(("shoulder", "hip")):
        return []
    if not (body.seen(11) and body.seen(12)):
        # One shoulder hidden behind the other: that is a side view.
        ratio = 0.0
    else:
        torso = body.torso_length()
        if torso < 1e-6:
            return []
        ratio = body.shoulder_width() / torso
    wrong = ((entry.view == "side" and ratio > SETUP_LIMITS["facing_min_ratio"])
             or (entry.view == "front" and ratio < SETUP_LIMITS["side_max_ratio"]))
    return [SetupProblem("camera", entry.camera_advice, False)] if wrong else []


def check_setup(body: Body | None, exercise: str, dark_share: float, bright_share: float) -> list[SetupProblem]:
    """Every setup problem of one frame (`exercise` may be "none": then only lighting and presence)."""
    known = exercise in CATALOGUE
    seen = body is not None and (not known or body_visible(body, exercise))
    problems = check_lighting(dark_share, bright_share, seen)
    if known:
        problems += check_framing(body, exercise) + check_camera(body, exercise)
    elif body is None:
        problems.append(SetupProblem("no_body", TEXTS["no_body"], True))
    return problems


class SetupMonitor:
    """Shows a setup problem only once it has lasted `persist_s` (a frame or two of bad framing is noise)."""

    def __init__(self, persist_s: float = SETUP_LIMITS["persist_s"]):
        self.persist_s = persist_s
        self._since: dict[str, float] = {}
        self.active: list[SetupProblem] = []

    def update(self, now: float, problems: list[SetupProblem]) -> list[SetupProblem]:
        """Returns the problems that just became active (to be said once); `active` holds all current ones."""
        kinds = {p.kind for p in problems}
        self._since = {k: t for k, t in self._since.items() if k in kinds}
        before = {p.kind for p in self.active}
        self.active = []
        for p in problems:
            since = self._since.setdefault(p.kind, now)
            if now - since >= self.persist_s:
                self.active.append(p)
        return [p for p in self.active if p.kind not in before]
