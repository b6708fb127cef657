"""Replays of a training clip that show the window model cameras, trainees and variants the clips lack.

Each takes a clip (cached BlazePose landmarks) and returns it changed: another camera and trainee (mirror, roll,
zoom, pace, frame rate, dropped frames, jitter); push-ups turned head-up (on a step, a bench, a wall); forearm planks
raised onto straight arms; crunches with straighter legs, and crunch clips replayed as leg raises (which are
"none"); side views, and front views of jumping jacks, seen from another direction. offline/train_window.py says how
many of each a clip gets and labels their windows.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from common.features import (L_ANKLE, L_ELBOW, L_FOOT, L_HEEL, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, MIRROR_INDEX,
                             NUM_LANDMARKS, R_ANKLE, R_ELBOW, R_FOOT, R_HEEL, R_HIP, R_KNEE, R_SHOULDER, R_WRIST)
from common.rep_signals import measure_all
from offline import dataset
from offline.clip_stream import Clip, resample

# Push-ups with the hands on a step, a bench or a wall are floor push-ups with the body turned up about the feet;
# seen from the side, that is a turn of the picture. The clips are nearly all floor push-ups, so each side-view
# push-up clip gets INCLINE_COPIES replays turned head-up by this many degrees (the posture gate,
# common/exercises.py, stops push-ups at a trunk 80 deg from lying).
INCLINES = {"push_up": (10.0, 70.0)}
INCLINE_COPIES = 2
# Most clips film an exercise from the side; trainees film it from wherever the phone stands (sit-ups from the feet,
# lunges walking towards the camera, push-ups head-on). A side view loses only the body's width, which people share
# closely, so each side-view clip of an exercise that moves in the body's own plane gets TURN_COPIES replays seen from
# another direction: its joints set HALF_WIDTH torso lengths out to either side, the body turned TURN_DEG about the
# vertical, seen by a camera CAMERA_DISTANCE torso lengths away looking down by up to CAMERA_PITCH_DEG. The windows
# keep the labels of the clip as filmed (the 2-D swing of a turned rep is smaller, not absent). Clips of other
# activities are turned too, so that a view alone never says "exercise". Planks are turned on their forearms and,
# raised onto straight arms (below), on their hands: turned on their forearms alone (all but one plank clip), they
# taught the model that a plank on straight arms is not one, and a held-out one lost half its time. Side views of
# jumping jacks are not turned: their arms and legs swing sideways, in the width a side view has lost (front views
# are, below).
TURNED = ("push_up", "crunch", "squat", "lunge", "plank", dataset.OTHER)
# Jumping jacks are the other way round: arms and legs swing sideways, in the plane a front view sees whole; what it
# loses is the depth, which a jack barely has. So each front-view clip of jumping jacks (and of other activities)
# gets TURN_COPIES replays too, its joints in one plane (the face and the toes FRONT_DEPTH torso lengths ahead of
# it), turned and seen the same way: the side and three-quarter views of jacks the clips lack.
FRONT_TURNED = ("jumping_jack", dataset.OTHER)
FRONT_VIEW = 0.55             # shoulders at least this share of the torso's length apart (median): facing the camera
FRONT_DEPTH = np.zeros(NUM_LANDMARKS)
FRONT_DEPTH[:11] = -0.1                                           # the face (- : towards the camera)
FRONT_DEPTH[[L_FOOT, R_FOOT]] = -0.15                             # the toes
# Planks on straight arms: every plank clip but one is on the forearms. A forearm plank raised onto straight arms
# (the body turned up about the feet until the shoulders are a forearm higher, the hands on the floor under them)
# is one; each side-view forearm plank clip gets STRAIGHT_ARM_COPIES such replays, and its turned replays
# (TURN_COPIES) alternate between the two.
STRAIGHT_ARM_COPIES = 1
STRAIGHT_ARM_MAX_ELBOW = 120.0    # a plank whose elbow angle (median) is over this is on straight arms already
# Sit-ups and crunches with straighter legs: four of the five training crunch clips bend the knees to 30-70 deg
# (median), and trainees do them with the knees at 100-130 deg too (full sit-ups, feet hooked under a decline bench's
# pad): the model learned the knee angle and read those as "none" (the decline-bench clip out of fold, the held-out
# sit-ups on most windows). Each crunch clip gets OPEN_KNEE_COPIES replays with both knees opened by OPEN_KNEE_DEG
# (the shins turned about the knees, up to OPEN_KNEE_MAX): the rep signals (shoulder-hip-knee, nose-hip-knee) do
# not move.
OPEN_KNEES = ("crunch",)
OPEN_KNEE_COPIES = 2
OPEN_KNEE_DEG = (30.0, 90.0)
OPEN_KNEE_MAX = 165.0
# Lying leg raises are not crunches, and they swing the same hip angle; the training clips have one. Each crunch
# clip gets LEG_RAISE_COPIES replays as leg raises, whose windows are "none": the trainee lies still as at the
# clip's lowest point, and the legs, nearly straight (knees bent by LEG_RAISE_KNEE_BEND), rise LEG_RAISE_DEG about
# the hips and come down, one raise every LEG_RAISE_PERIOD_S.
LEG_RAISED = ("crunch",)
LEG_RAISE_COPIES = 1
LEG_RAISE_DEG = (50.0, 95.0)
LEG_RAISE_PERIOD_S = (1.5, 4.0)
LEG_RAISE_KNEE_BEND = (0.0, 25.0)
TURN_COPIES = 2
TURN_DEG = (25.0, 90.0)
CAMERA_DISTANCE = (3.0, 8.0)
CAMERA_PITCH_DEG = (0.0, 30.0)
SIDE_VIEW = 0.4               # shoulders closer than this share of the torso's length (median): filmed from the side
HIDDEN_BEHIND = 0.5           # a joint this many torso lengths behind nearer joints around it is hidden by them ...
HIDDEN_VISIBILITY = 0.2       # ... its visibility scaled by this (BlazePose guesses it)
HALF_WIDTH = np.zeros(NUM_LANDMARKS)
HALF_WIDTH[1:11] = 0.08                                           # eyes, ears, mouth
HALF_WIDTH[[L_SHOULDER, R_SHOULDER]] = 0.38
HALF_WIDTH[[L_ELBOW, R_ELBOW]] = 0.42
HALF_WIDTH[L_WRIST:L_HIP] = 0.36                                  # wrists and hands
HALF_WIDTH[[L_HIP, R_HIP, L_KNEE, R_KNEE]] = 0.2
HALF_WIDTH[L_ANKLE:] = 0.17                                       # ankles and feet
LEFT = np.zeros(NUM_LANDMARKS, bool)
LEFT[[1, 2, 3, 7, 9]] = True                                      # the left eye, ear and mouth corner
LEFT[L_SHOULDER::2] = True


def _rotation(angle: float) -> np.ndarray:
    """The 2-D rotation by `angle` radians (row vectors: points @ _rotation(a).T)."""
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def augment(clip: Clip, rng: np.random.Generator) -> tuple[Clip, float]:
    """Another camera and trainee; returns the clip and its time stretch (to place the SEGMENTS)."""
    lm = clip.landmarks.copy()
    if rng.random() < 0.5:
        lm = lm[:, MIRROR_INDEX]
        lm[..., 0] = 1.0 - lm[..., 0]
    xy = lm[..., :2] * np.array([clip.aspect, 1.0])
    angle = np.radians(rng.uniform(-12, 12))
    rot = _rotation(angle)
    centre = np.array([clip.aspect / 2, 0.5])
    xy = (xy - centre) @ rot.T * rng.uniform(0.7, 1.3) + centre
    xy += rng.normal(0, 0.004, xy.shape)
    lm[..., :2] = xy / np.array([clip.aspect, 1.0])
    stretch = rng.uniform(0.8, 1.25)
    out = replace(clip, t=clip.t * stretch, landmarks=lm.astype(np.float32), fps=clip.fps / stretch)
    if rng.random() < 0.6:
        out = resample(out, rng.uniform(10, 18))
    keep = rng.random(len(out.t)) > rng.uniform(0, 0.15)
    keep[0] = True
    return replace(out, t=out.t[keep], landmarks=out.landmarks[keep]), stretch


def incline(clip: Clip, low: float, high: float, rng: np.random.Generator) -> Clip | None:
    """The clip's body turned head-up by low..high degrees about its hips (None: not lying across the picture,
    where a turn of the picture is not an incline)."""
    lm = clip.landmarks.copy()
    xy = lm[..., :2] * np.array([clip.aspect, 1.0])
    seen = ~np.isnan(xy[:, 0, 0])
    if seen.sum() < 3:
        return None
    shoulders = xy[seen][:, [L_SHOULDER, R_SHOULDER]].mean(1)
    hips = xy[seen][:, [L_HIP, R_HIP]].mean(1)
    along = np.median(shoulders[:, 0] - hips[:, 0])            # + : the head is to the right of the hips
    rise = np.median(hips[:, 1] - shoulders[:, 1])
    if abs(along) < 2 * abs(rise) or abs(along) < 1e-6:
        return None
    # y points down: turning by +angle moves a point right of the centre down, so the head-up turn is -sign(along)
    angle = -np.sign(along) * np.radians(rng.uniform(low, high))
    rot = _rotation(angle)
    centre = np.median(hips, axis=0)
    xy = (xy - centre) @ rot.T + centre
    lm[..., :2] = xy / np.array([clip.aspect, 1.0])
    return replace(clip, landmarks=lm.astype(np.float32))


def straight_armed(clip: Clip) -> Clip | None:
    """A side-view forearm plank raised onto straight arms (None: not a side view of one)."""
    lm = clip.landmarks.copy()
    xy = lm[..., :2].astype(np.float64) * np.array([clip.aspect, 1.0])
    seen = ~np.isnan(xy[:, 0, 0])
    torso, width = proportions(clip)
    if seen.sum() < 3 or not torso > 1e-6 or width >= SIDE_VIEW * torso:
        return None
    shoulders, elbows = xy[:, [L_SHOULDER, R_SHOULDER]], xy[:, [L_ELBOW, R_ELBOW]]
    wrists, feet = xy[:, [L_WRIST, R_WRIST]], xy[:, [L_ANKLE, R_ANKLE]].mean(1)
    upper = np.nanmedian(np.linalg.norm(shoulders - elbows, axis=2))
    fore = np.nanmedian(np.linalg.norm(elbows - wrists, axis=2))
    bend = [a for a in (measure_all(p, clip.aspect)["elbow_angle"] for p in clip.landmarks[seen]) if a is not None]
    if not (upper > 1e-6 and fore > 1e-6 and bend) or np.median(bend) > STRAIGHT_ARM_MAX_ELBOW:
        return None
    # The floor runs from the elbows to the feet (both on it); "up" is across it, towards the shoulders.
    along = np.nanmedian(feet - elbows.mean(1), axis=0)
    along /= max(np.linalg.norm(along), 1e-9)
    up = np.array([along[1], -along[0]])
    if np.nanmedian((shoulders.mean(1) - elbows.mean(1)) @ up) < 0:
        up = -up
    out = xy.copy()
    for i in np.flatnonzero(seen):
        rel = shoulders[i].mean(0) - feet[i]
        reach = np.linalg.norm(rel)
        height = rel @ up
        if not reach > upper + fore or not np.isfinite(height):
            out[i] = np.nan             # too short from shoulders to feet for a plank (a cut, a close-up): no body
            continue
        turn = np.arcsin(min(1.0, (height + fore) / reach)) - np.arcsin(np.clip(height / reach, -1.0, 1.0))
        turn *= 1.0 if rel[0] * up[1] - rel[1] * up[0] >= 0 else -1.0      # towards "up"
        body = (xy[i] - feet[i]) @ _rotation(turn).T + feet[i]
        out[i] = body
        for side, (sh, el, wr) in enumerate(((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST))):
            floor = body[sh] - up * ((body[sh] - feet[i]) @ up)      # under the shoulder, on the floor line
            out[i, el] = body[sh] + (floor - body[sh]) * upper / (upper + fore)
            out[i, wr] = floor
            out[i, L_WRIST + 2 + side:L_HIP:2] = floor + (xy[i, L_WRIST + 2 + side:L_HIP:2] - xy[i, wr]) * 0.5
    lm[..., :2] = out / np.array([clip.aspect, 1.0])
    lm[np.isnan(out[:, :, 0])] = np.nan
    return replace(clip, landmarks=lm.astype(np.float32))


def knees_opened(clip: Clip, rng: np.random.Generator) -> Clip:
    """The clip with both knees opened by OPEN_KNEE_DEG (the same for the whole replay; at most OPEN_KNEE_MAX): each
    shin, with its foot, turned about the knee away from the thigh, in the picture."""
    lm = clip.landmarks.copy()
    xy = lm[..., :2].astype(np.float64) * np.array([clip.aspect, 1.0])
    opening = np.radians(rng.uniform(*OPEN_KNEE_DEG))
    for hip, knee, ankle, shin in ((L_HIP, L_KNEE, L_ANKLE, [L_ANKLE, L_HEEL, L_FOOT]),
                                   (R_HIP, R_KNEE, R_ANKLE, [R_ANKLE, R_HEEL, R_FOOT])):
        thigh, lower = xy[:, hip] - xy[:, knee], xy[:, ankle] - xy[:, knee]
        bend = np.arctan2(thigh[:, 0] * lower[:, 1] - thigh[:, 1] * lower[:, 0], (thigh * lower).sum(1))
        # |bend| is the knee angle; turning the shin by +turn (y down: clockwise) opens it when bend > 0
        turn = np.sign(bend) * np.clip(np.radians(OPEN_KNEE_MAX) - np.abs(bend), 0.0, opening)
        for i in np.flatnonzero(np.isfinite(turn)):
            xy[i, shin] = (xy[i, shin] - xy[i, knee]) @ _rotation(turn[i]).T + xy[i, knee]
    lm[..., :2] = xy / np.array([clip.aspect, 1.0])
    return replace(clip, landmarks=lm.astype(np.float32))


def leg_raises(clip: Clip, rng: np.random.Generator) -> Clip | None:
    """A crunch clip replayed as lying leg raises, labelled 'other' (None: no frame shows it lying back)."""
    bends = [(b, i) for i in np.flatnonzero(~np.isnan(clip.landmarks[:, 0, 0]))
             if (b := measure_all(clip.landmarks[i], clip.aspect)["trunk_bend"]) is not None]
    if len(bends) < 3:
        return None
    lying = clip.landmarks[max(bends)[1]]                  # the clip's lowest point: lying back
    body = lying[:, :2].astype(np.float64) * np.array([clip.aspect, 1.0])
    hips, shoulders = body[[L_HIP, R_HIP]].mean(0), body[[L_SHOULDER, R_SHOULDER]].mean(0)
    along = (hips - shoulders) / max(np.linalg.norm(hips - shoulders), 1e-9)   # where straight legs lie
    up = np.array([along[1], -along[0]])
    if (body[[L_KNEE, R_KNEE]].mean(0) - hips) @ up < 0:    # the bent knees are on the side away from the floor
        up = -up
    period = rng.uniform(*LEG_RAISE_PERIOD_S)
    lift = np.radians(rng.uniform(*LEG_RAISE_DEG)) * (1 - np.cos(2 * np.pi * clip.t / period)) / 2
    shin_lift = lift - np.radians(rng.uniform(*LEG_RAISE_KNEE_BEND))          # the knees nearly straight
    thigh = np.cos(lift)[:, None] * along + np.sin(lift)[:, None] * up          # [N, 2]
    shin = np.cos(shin_lift)[:, None] * along + np.sin(shin_lift)[:, None] * up
    sole = np.cos(shin_lift)[:, None] * up - np.sin(shin_lift)[:, None] * along  # the toes: across the shin
    xy = np.repeat(body[None], len(clip.t), axis=0)
    for hip, knee, ankle, heel, foot in ((L_HIP, L_KNEE, L_ANKLE, L_HEEL, L_FOOT),
                                         (R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_FOOT)):
        xy[:, knee] = body[hip] + thigh * np.linalg.norm(body[knee] - body[hip])
        xy[:, ankle] = xy[:, knee] + shin * np.linalg.norm(body[ankle] - body[knee])
        xy[:, foot] = xy[:, ankle] + sole * np.linalg.norm(body[foot] - body[ankle])
        xy[:, heel] = xy[:, ankle] - sole * np.linalg.norm(body[heel] - body[ankle])
    lm = np.repeat(lying[None], len(clip.t), axis=0)
    lm[..., :2] = xy / np.array([clip.aspect, 1.0])
    lm[np.isnan(clip.landmarks[:, 0, 0])] = np.nan                            # no body where the clip had none
    return replace(clip, label=replace(clip.label, exercise=dataset.OTHER, reps=None), landmarks=lm.astype(np.float32))


def proportions(clip: Clip) -> tuple[float, float]:
    """(torso length, shoulder width) in the picture's true proportions, medians over the frames with a body (NaN
    without one). A shoulder width under SIDE_VIEW torso lengths: filmed from the side."""
    xy = clip.landmarks[..., :2].astype(np.float64) * np.array([clip.aspect, 1.0])
    xy = xy[~np.isnan(xy[:, 0, 0])]
    if not len(xy):
        return float("nan"), float("nan")
    sh = xy[:, [L_SHOULDER, R_SHOULDER]]
    torso = np.median(np.linalg.norm(sh.mean(1) - xy[:, [L_HIP, R_HIP]].mean(1), axis=1))
    return float(torso), float(np.median(np.linalg.norm(sh[:, 0] - sh[:, 1], axis=1)))


def turned(clip: Clip, rng: np.random.Generator) -> Clip | None:
    """The clip seen from another direction around the trainee (None: not a side view of a TURNED exercise nor a
    front view of a FRONT_TURNED one)."""
    lm = clip.landmarks.copy()
    xy = lm[..., :2].astype(np.float64) * np.array([clip.aspect, 1.0])
    seen = ~np.isnan(xy[:, 0, 0])
    if seen.sum() < 3:
        return None
    torso, width = proportions(clip)
    if not torso > 1e-6:
        return None
    hips = xy[seen][:, [L_HIP, R_HIP]].mean(1)
    if width < SIDE_VIEW * torso and clip.exercise in TURNED:
        vis = lm[seen][..., 3]      # the side facing the camera is the one BlazePose sees better
        left_near = np.nanmean(vis[:, [L_SHOULDER, L_HIP, L_KNEE, L_ANKLE]]) >= np.nanmean(
            vis[:, [R_SHOULDER, R_HIP, R_KNEE, R_ANKLE]])
        depth = HALF_WIDTH * torso * np.where(LEFT == left_near, -1.0, 1.0)    # + : away from the camera
    elif width >= FRONT_VIEW * torso and clip.exercise in FRONT_TURNED:
        depth = FRONT_DEPTH * torso
    else:
        return None
    centre = np.median(hips, axis=0)
    x, y = xy[..., 0] - centre[0], xy[..., 1] - centre[1]
    yaw = np.radians(rng.uniform(*TURN_DEG)) * rng.choice([-1.0, 1.0])
    pitch = np.radians(rng.uniform(*CAMERA_PITCH_DEG))
    distance = rng.uniform(*CAMERA_DISTANCE) * torso
    x1 = x * np.cos(yaw) + depth * np.sin(yaw)
    z1 = -x * np.sin(yaw) + depth * np.cos(yaw)
    y2 = y * np.cos(pitch) - z1 * np.sin(pitch)      # looking down: what lies further off rises in the picture
    z2 = z1 * np.cos(pitch) + y * np.sin(pitch)
    scale = distance / np.maximum(distance + z2, 0.2 * distance)
    px, py = x1 * scale, y2 * scale
    # A joint behind nearer parts of the body (the legs behind the shoulders of a push-up seen head-on) is hidden
    behind = z2[:, :, None] > z2[:, None, :] + HIDDEN_BEHIND * torso        # [N, j, k]: j lies behind k
    margin = 0.1 * torso
    lo_x = np.where(behind, px[:, None, :], np.inf).min(2) - margin
    hi_x = np.where(behind, px[:, None, :], -np.inf).max(2) + margin
    lo_y = np.where(behind, py[:, None, :], np.inf).min(2) - margin
    hi_y = np.where(behind, py[:, None, :], -np.inf).max(2) + margin
    hidden = (px > lo_x) & (px < hi_x) & (py > lo_y) & (py < hi_y)
    lm[..., 3] = np.where(hidden, lm[..., 3] * HIDDEN_VISIBILITY, lm[..., 3])
    lm[..., 0] = (centre[0] + px) / clip.aspect
    lm[..., 1] = centre[1] + py
    return replace(clip, landmarks=lm.astype(np.float32))
