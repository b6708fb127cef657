"""The exercises the trainer knows, their phases and how each is measured."""
from __future__ import annotations

NONE = "none"
# Order is the label order of the level-1 model (plus "none").
EXERCISES = ("jumping_jack", "crunch", "lunge", "plank", "squat", "push_up")
HOLDS = frozenset({"plank"})          # timed, not counted
START, END = "start", "end"
PHASES = (START, END)

DISPLAY_NAMES = {"jumping_jack": "Jumping jacks", "crunch": "Crunches", "lunge": "Lunges", "plank": "Plank",
                 "squat": "Squats", "push_up": "Push-ups", NONE: "—"}

# Where to put the camera for each exercise (setup advice shown before and during a workout).
CAMERA_ADVICE = {
    "jumping_jack": "Face the camera, whole body in view.",
    "crunch": "Side view, lying across the picture.",
    "lunge": "Side view, whole body in view.",
    "plank": "Side view, head to heels in view.",
    "squat": "Side view (or three-quarter), feet in view.",
    "push_up": "Side view, head to feet in view.",
}


def is_hold(exercise: str) -> bool:
    return exercise in HOLDS
