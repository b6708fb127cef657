"""Counting from a movement signal, on synthetic signals: trainees of any range and speed, drift, pauses, edges,
jitter, few frames, and the exercise tracker's crediting (recognition lag, switches, overlaps)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from common.exercises import CATALOGUE, RepSignal
from services.coach.exercise_tracker import (CHAIN_GAP_S, CREDIT_LAG_S, RESUME_S, ExerciseCounter,
                                             ExerciseTracker)
from services.coach.movement_counter import CUT_SHARE, MovementCounter

KNEE = RepSignal((("knee_angle", 1.0, 1.0),), start_high=True, prior_range=80.0, min_swing=30.0, min_rep_s=0.3,
                 max_rep_s=12.0)


def reps_signal(n: int, top: float = 170.0, bottom: float = 90.0, period: float = 2.0, rest: float = 1.0,
                fps: float = 30.0, drift_per_s: float = 0.0, hold_bottom: float = 0.0, noise: float = 0.0,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n reps of a smooth dip from `top` to `bottom` and back, with `rest` seconds standing before, between and
    after; `hold_bottom` seconds paused at the bottom; the whole signal drifting by `drift_per_s`."""
    rng = np.random.default_rng(seed)
    values = [top] * int(rest * fps)
    for _ in range(n):
        half = int(period / 2 * fps)
        down = [top - (top - bottom) * (1 - math.cos(math.pi * i / half)) / 2 for i in range(half)]
        values += down + [bottom] * int(hold_bottom * fps) + down[::-1] + [top] * int(rest * fps)
    v = np.array(values, float)
    t = np.arange(len(v)) / fps
    return t, v + drift_per_s * t + noise * rng.standard_normal(len(v))


def count(signal: RepSignal, t, v, start: int = 0, stop: int | None = None) -> list:
    counter = MovementCounter(signal)
    reps = [r for ti, vi in zip(t[start:stop], v[start:stop]) if (r := counter.update(float(ti), float(vi)))]
    return reps


@pytest.mark.parametrize("top, bottom", [(175, 60), (170, 120), (160, 125)])
def test_small_and_large_ranges_are_counted(top, bottom):
    # A deep squatter (115 deg), a shallow one (50) and one who barely bends (35: the first rep must leave the
    # start by 40 % of the prior range, 32 deg).
    t, v = reps_signal(6, top, bottom)
    assert len(count(KNEE, t, v)) == 6


def test_a_swing_below_the_minimum_is_never_a_rep():
    t, v = reps_signal(6, 160, 135)
    assert count(KNEE, t, v) == []


@pytest.mark.parametrize("period, rest", [(0.6, 0.2), (2.0, 1.0), (6.0, 2.0)])
def test_slow_and_fast_reps(period, rest):
    t, v = reps_signal(5, period=period, rest=rest)
    reps = count(KNEE, t, v)
    assert len(reps) == 5
    assert all(0.5 * period < r.duration_s < 1.2 * period for r in reps)


def test_a_swing_faster_than_a_rep_can_be_is_not_one():
    t, v = reps_signal(3, period=0.2, rest=0.5)   # 0.2 s down and up: a tracking glitch, not a squat
    assert count(KNEE, t, v) == []


def test_a_camera_that_drifts_slowly_neither_adds_nor_loses_reps():
    t, v = reps_signal(8, drift_per_s=-3.0)        # 3 deg/s: 60 deg over the set, as big as a rep
    assert len(count(KNEE, t, v)) == 8
    t, v = reps_signal(0, rest=20.0, drift_per_s=-4.0)   # nobody moving, only the camera
    assert count(KNEE, t, v) == []


def test_a_pause_at_the_bottom_is_one_rep():
    t, v = reps_signal(3, hold_bottom=3.0)
    assert len(count(KNEE, t, v)) == 3


def test_too_long_at_the_bottom_is_not_a_rep_but_the_next_one_counts():
    t, v = reps_signal(1, hold_bottom=15.0)        # sat down for 15 s: longer than any squat
    t2, v2 = reps_signal(2)
    t, v = np.r_[t, t[-1] + 1 / 30 + t2], np.r_[v, v2]
    assert len(count(KNEE, t, v)) == 2


def test_a_rep_cut_by_the_stream_start_counts_if_it_rises_from_low_enough():
    t, v = reps_signal(3, rest=1.0)
    bottom = int((1.0 + 1.0) * 30)                 # the first rep's bottom
    assert len(count(KNEE, t, v, start=bottom)) == 3          # opened at the bottom and rose: counted
    assert len(count(KNEE, t, v, start=bottom + 22)) == 2     # opened 3/4 of the way up: that rise is too small


def test_a_lone_glitching_first_sample_at_the_far_end_is_not_a_rep():
    # At 10 frames/s BlazePose's first guess of a body it has just found bent the trunk to 13 deg for one sample;
    # the next said 119, where the trainee lay. Not a rep the stream opened in: the stream opens at 119. Two real
    # sit-ups follow. A stream that opens at the far end for two samples and rises is still a rep (test above).
    situp = CATALOGUE["crunch"].signals[1]
    t, v = reps_signal(2, top=120, bottom=60, fps=10)
    v[0] = 13.0
    assert len(count(situp, t, v)) == 2
    v[1] = 15.0
    assert len(count(situp, t, v)) == 3
    v[:2] = 120.0
    v[5] = 13.0            # the same glitch a moment later, before the first sit-up: no rep either
    assert len(count(situp, t, v)) == 2


@pytest.mark.parametrize("fps", [10.0, 24.0, 30.0, 60.0])
def test_a_cut_from_another_shot_at_the_bottom_to_the_top_is_not_a_rep(fps):
    # An edited video opens on 0.43 s of another shot with the elbow at 62 deg, then cuts to the trainee at the
    # top (144, 158 ...): up by 80 deg between two frames, faster than a body. The stream opens after the cut.
    pushup = CATALOGUE["push_up"].signals[0]
    t, v = reps_signal(3, top=160, bottom=70, fps=fps)
    shot = np.full(round(0.43 * fps), 62.0)
    opened = np.r_[shot, v]
    assert len(count(pushup, np.arange(len(opened)) / fps, opened)) == 3
    # The same opening rising for real, over half a second, is a rep the stream opened in.
    rise = 62 + (160 - 62) * (1 - np.cos(np.linspace(0, np.pi, round(0.5 * fps)))) / 2
    rising = np.r_[shot, rise, v]
    assert len(count(pushup, np.arange(len(rising)) / fps, rising)) == 4
    # One glitching sample up at the start of a real rise does not make it a cut.
    glitch = rising.copy()
    glitch[len(shot)] = 150.0
    assert len(count(pushup, np.arange(len(glitch)) / fps, glitch)) == 4
    # Below 1 / (CUT_SHARE x the shortest push-up) frames/s no step is that short: the cut counts as a rise.
    slow = 0.9 / (CUT_SHARE * pushup.min_rep_s)
    t, v = reps_signal(3, top=160, bottom=70, fps=slow)
    opened = np.r_[np.full(round(0.43 * slow), 62.0), v]
    assert len(count(pushup, np.arange(len(opened)) / slow, opened)) == 4


def test_a_rep_the_stream_opened_in_has_no_lower_bound_on_its_length():
    slow = RepSignal((("knee_angle", 1.0, 1.0),), start_high=True, prior_range=80.0, min_swing=30.0,
                     min_rep_s=0.9, max_rep_s=12.0)
    fps = 30
    quick = np.r_[np.linspace(135, 80, int(0.3 * fps)), np.linspace(80, 170, int(0.4 * fps)), [170.0] * fps]
    t = np.arange(len(quick)) / fps
    assert len(count(slow, t, quick)) == 1        # walked in mid-way down: the rep began before the first frame
    seen = np.r_[[135.0] * fps, quick]            # the same 0.7 s dip after a second at that level: too quick
    assert count(slow, np.arange(len(seen)) / fps, seen) == []


def test_a_rep_cut_by_the_stream_end_counts_only_when_nearly_back():
    t, v = reps_signal(2, rest=1.0)
    end_of_second_bottom = int((1.0 + 2.0 + 1.0 + 1.0) * 30)
    assert len(count(KNEE, t, v, stop=end_of_second_bottom)) == 1          # ends at the bottom
    assert len(count(KNEE, t, v, stop=end_of_second_bottom + 14)) == 1     # ~60 % of the way up
    assert len(count(KNEE, t, v, stop=end_of_second_bottom + 25)) == 2     # ~95 % of the way up


def test_a_trainee_who_stands_up_in_the_last_frames_is_counted_when_the_stream_ends():
    t = np.arange(0, 4, 1 / 30)
    v = np.r_[[170.0] * 30, np.linspace(170, 90, 30), [90.0] * 57, [150.0, 165.0, 168.0]]
    counter = MovementCounter(KNEE)
    assert [ti for ti, vi in zip(t, v) if counter.update(float(ti), float(vi))] == []   # the median lags
    assert counter.finish() is not None and counter.count == 1
    glitch = MovementCounter(KNEE)                    # one wild last frame is not a trainee standing up
    for ti, vi in zip(t, np.r_[v[:-3], [90.0, 90.0, 168.0]]):
        glitch.update(float(ti), float(vi))
    assert glitch.finish() is None and glitch.count == 0


def jacks_fading_on_the_way_back(fps: float = 24.0):
    """Three jumping jacks (arm elevation 10 -> 150 -> 10 deg) and the counter that sees them up to the first frame
    of the third jack's way down that is back past the band, where the picture fades out; that frame's index."""
    jack = CATALOGUE["jumping_jack"].signals[0]
    t, v = reps_signal(3, top=10.0, bottom=150.0, period=1.0, rest=0.5, fps=fps)
    counter = MovementCounter(jack)
    for i, (ti, vi) in enumerate(zip(t, v)):
        was_past = counter.bands()[1] is not None and vi <= counter.bands()[1]
        counter.update(float(ti), float(vi))
        if counter.count == 2 and counter.phase == "end" and was_past and v[i - 1] > counter.bands()[1]:
            return t, v, i
    raise AssertionError("no such frame")


def test_arms_still_coming_down_steadily_past_the_band_as_the_picture_fades_complete_the_jack():
    # The 12th jack of a clip that fades to a logo: the arms pass the band on the last frame BlazePose sees, the one
    # before is not yet past, and the running median lags both. They travel steadily: that is a jack.
    jack = CATALOGUE["jumping_jack"].signals[0]
    t, v, last = jacks_fading_on_the_way_back()
    ended = MovementCounter(jack)
    for ti, vi in zip(t[:last + 1], v[:last + 1]):
        ended.update(float(ti), float(vi))
    assert ended.count == 2 and ended.finish() is not None and ended.count == 3        # the stream ends there
    gone = MovementCounter(jack)
    reps = [r for ti, vi in zip(t[:last + 1], v[:last + 1]) if (r := gone.update(float(ti), float(vi)))]
    after = [(t[last] + k / 24.0, None) for k in range(1, 72)] + [(t[last] + 3.0, 10.0)]  # gone 3 s, then back
    reps += [r for ti, vi in after if (r := gone.update(float(ti), vi))]
    assert len(reps) == 3 and reps[-1].ended_at == pytest.approx(t[last])
    # A skeleton that hops to another person's arms, at their sides, from a frame not yet past the band: the last
    # step more than twice the one before. No trainee comes back like that.
    assert v[last - 1] - 0.0 > 2 * (v[last - 2] - v[last - 1])
    hop = MovementCounter(jack)
    for ti, vi in zip(t[:last], v[:last]):
        hop.update(float(ti), float(vi))
    hop.update(float(t[last]), 0.0)
    assert hop.finish() is None and hop.count == 2


def test_a_start_level_that_never_comes_back_ends_each_rep_where_the_trainee_turns():
    # Standing straight (170), then a step into a split stance: every rep from 135 down to 65 and back, the
    # first one leaving 170, a level that never comes back. Each rep ends at the turn at its top.
    t, v = reps_signal(5, top=135, bottom=65, rest=0.3)
    t = np.r_[np.arange(30) / 30, 1.0 + t]
    v = np.r_[[170.0] * 30, v]
    reps = count(KNEE, t, v)
    assert len(reps) == 5
    assert all(60 <= r.range_of_motion <= 80 for r in reps)   # the trainee's range, not the old level's


def test_a_wobble_on_the_way_back_from_a_large_swing_is_not_a_turn():
    # A sit-up against a crunch's prior range (30): lying (170), up (70) and held, then on the way back down a
    # wobble (to 112, up again to 80) before lying down. One rep, not two: the wobble came back less than half the
    # swing, so it is no turn, however much larger than the prior range it is.
    situp = RepSignal((("trunk_bend", 1.0, 1.0),), start_high=True, prior_range=30.0, min_swing=10.0,
                      min_rep_s=0.4, max_rep_s=10.0)
    points = [(0.0, 170), (0.5, 170), (0.9, 70), (1.8, 72), (2.1, 112), (2.4, 80), (3.1, 170), (4.5, 170)]
    t = np.arange(0, 4.5, 1 / 30)
    v = np.interp(t, [p for p, _ in points], [x for _, x in points])
    assert len(count(situp, t, v)) == 1
    t10 = np.arange(0, 4.5, 1 / 10)
    assert len(count(situp, t10, np.interp(t10, [p for p, _ in points], [x for _, x in points]))) == 1


def test_reps_smaller_than_the_prior_range_under_a_start_level_that_never_comes_back_are_counted():
    # Crunches that curl the head 22 deg (the prior range is 30), after the camera moved so the opening level reads
    # 8 deg higher than the trainee ever comes back to: each crunch comes back ~75 % of the way, turns and curls
    # again. Four crunches, four reps (a turn that had to rise 80 % of the prior range counted none).
    crunch = CATALOGUE["crunch"].signals[0]
    points = [(0.0, 96.0), (0.5, 104.0), (0.8, 97.0)]
    for i in range(4):
        start = 1.0 + 1.6 * i
        points += [(start + 0.5, 74.0), (start + 1.2, 96.0)]
    points.append((points[-1][0] + 1.0, 96.0))
    for fps in (30, 10):
        t = np.arange(0, points[-1][0], 1 / fps)
        v = np.interp(t, [p for p, _ in points], [x for _, x in points])
        reps = count(crunch, t, v)
        assert len(reps) == 4, fps
        assert all(15 <= r.range_of_motion <= 30 for r in reps)


def test_jitter_at_a_band_edge_is_not_counted():
    t = np.arange(0, 20, 1 / 30)
    level = 170 - 0.4 * 80                          # right at the band a rep must cross
    v = np.where((t % 0.3) < 0.15, level + 3, level - 3)   # flicker across it every 0.15 s
    v[:30] = 170
    assert count(KNEE, t, v) == []


def test_noisy_tracking_does_not_add_reps():
    t, v = reps_signal(6, noise=4.0)
    assert len(count(KNEE, t, v)) == 6


@pytest.mark.parametrize("fps", [30.0, 18.0, 10.0, 6.0])
def test_few_frames_count_the_same(fps):
    t, v = reps_signal(6, fps=fps)
    assert len(count(KNEE, t, v)) == 6


def test_range_calibrates_to_this_trainee():
    counter = MovementCounter(KNEE)
    t, v = reps_signal(4, 170, 60)
    for ti, vi in zip(t, v):
        counter.update(float(ti), float(vi))
    assert counter.calibrated_range > 95           # from the prior 80 towards this trainee's 110
    assert counter.phase == "start"
    down, up = counter.bands()
    assert down == pytest.approx(170 - 0.4 * counter.calibrated_range, abs=1.0) and up is None


def test_a_signal_rising_for_its_rep_counts_the_same():
    # Jumping jacks: the arms go up for the rep (the start position is the low end).
    signal = CATALOGUE["jumping_jack"].signals[0]
    t, v = reps_signal(5, top=170, bottom=20, period=0.9, rest=0.3)
    assert len(count(signal, t, 190 - v)) == 5     # 20 -> 170 -> 20 upside down


# --------------------------------------------------------------------------- the exercise tracker

def squat_measures(depth: float) -> dict:
    """Measures of a squat `depth` of the way down (0 standing, 1 at the bottom)."""
    return {"knee_angle": 170 - 90 * depth, "hip_height": 170 - 70 * depth, "elbow_angle": 170.0,
            "arm_elevation": 15.0, "head_curl": None, "trunk_bend": 170 - 60 * depth}


def squat_frames(n: int, t0: float = 0.0, fps: float = 30.0, rest: float = 1.0, period: float = 1.6):
    t, v = reps_signal(n, top=0.0, bottom=1.0, rest=rest, period=period, fps=fps)
    return [(t0 + ti, squat_measures(float(d))) for ti, d in zip(t, v)]


def test_the_count_starts_at_the_first_rep_although_recognition_comes_later():
    tracker = ExerciseTracker()
    frames = squat_frames(6)
    reps = []
    for t, m in frames:
        reps += tracker.update(t, m, "squat" if t > 3.5 else "none")   # recognised after the 2nd rep
    assert [r.number for r in reps] == [1, 2, 3, 4, 5, 6]
    assert all(r.exercise == "squat" for r in reps)
    assert tracker.counts["lunge"] == 0    # the lunge counter saw the same knees; never credited


def test_reps_older_than_the_credit_lag_are_not_credited():
    tracker = ExerciseTracker()
    frames = squat_frames(2)
    for t, m in frames:
        tracker.update(t, m, "none")
    reps = []
    later = frames[-1][0] + CREDIT_LAG_S + 1
    for t, m in squat_frames(1, t0=later):
        reps += tracker.update(t, m, "squat")
    assert [r.number for r in reps] == [1]


@pytest.mark.parametrize("lost_s, credited", [(6.5, 12), (12.5, None)])
def test_a_set_recognition_loses_for_a_few_seconds_keeps_its_reps(lost_s, credited):
    # Recognised, then "none" for a while (a bad window), then recognised again: the reps in between follow on
    # from the credited ones and count. Lost for longer than RESUME_S, only the last CREDIT_LAG_S are credited.
    tracker = ExerciseTracker()
    frames = squat_frames(12)
    seen = [tracker.update(t, m, "none" if 4.0 <= t < 4.0 + lost_s else "squat") for t, m in frames]
    reps = [r for rs in seen for r in rs]
    assert [r.number for r in reps] == list(range(1, len(reps) + 1))
    if credited is not None:
        assert len(reps) == credited
    else:
        back = 4.0 + lost_s
        assert 4.0 + RESUME_S < back and len(reps) < 12
        assert not [r for r in reps if 4.0 + 1.0 < r.ended_at < back - CREDIT_LAG_S]


def test_reps_of_a_set_before_a_pause_are_not_credited_when_recognition_comes_back():
    tracker = ExerciseTracker()
    reps = []
    first = squat_frames(2)
    for t, m in first:
        reps += tracker.update(t, m, "squat")
    second = squat_frames(2, t0=first[-1][0] + CHAIN_GAP_S + 1.0)            # a pause, then two more unrecognised
    third = squat_frames(2, t0=second[-1][0] + CREDIT_LAG_S + 0.5)           # ... and later recognised again
    for t, m in second:
        reps += tracker.update(t, m, "none")
    for t, m in third:
        reps += tracker.update(t, m, "squat")
    assert len(reps) == 4 and all(r.started_at > second[-1][0] for r in reps[2:])


def test_a_set_goes_on_while_its_movement_does_when_recognition_loses_it():
    # Recognised for three squats, then "none" for good (the camera moved to a view the model never saw): the reps
    # that follow at the set's pace are counted as they happen, and the coach still shows squats.
    tracker = ExerciseTracker()
    frames = squat_frames(8)
    reps, shown = [], []
    for t, m in frames:
        recognised = "squat" if t < 8.0 else "none"
        new = tracker.update(t, m, recognised)
        reps += new
        assert all(abs(r.ended_at - t) < 0.1 for r in new)             # live, not in a burst later
        shown.append(recognised if recognised != "none" else tracker.set_in_progress(t))
    assert [r.number for r in reps] == list(range(1, 9)) and all(r.exercise == "squat" for r in reps)
    assert set(shown) == {"squat"}


def test_one_rep_is_not_a_set_that_goes_on_without_recognition():
    # One rep credited (recognition may have been wrong for a moment), then "none": nothing more is counted.
    tracker = ExerciseTracker()
    reps = []
    for t, m in squat_frames(5):
        reps += tracker.update(t, m, "squat" if t < 2.5 else "none")
    assert len(reps) == 1 and tracker.set_in_progress(20.0) == ""


def test_a_set_does_not_go_on_after_a_pause_or_at_another_pace():
    # Two squats recognised, then, unrecognised: a pause longer than CHAIN_GAP_S before more squats; or, right away,
    # a "squat" four times slower than the set's (sitting down a while and getting up), or three times faster.
    paused = ExerciseTracker()
    first = squat_frames(2)
    reps = [r for t, m in first for r in paused.update(t, m, "squat")]
    later = squat_frames(2, t0=first[-1][0] + CHAIN_GAP_S + 0.5)
    reps += [r for t, m in later for r in paused.update(t, m, "none")]
    assert len(reps) == 2 and paused.set_in_progress(later[-1][0]) == ""
    slow = ExerciseTracker()
    reps = [r for t, m in first for r in slow.update(t, m, "squat")]
    sit = squat_frames(1, t0=first[-1][0], rest=0.5, period=4 * 1.6)
    reps += [r for t, m in sit for r in slow.update(t, m, "none")]
    assert len(reps) == 2
    # ... but it stays for recognition to judge: named a squat a moment later, it is one.
    reps += slow.update(sit[-1][0] + 0.5, sit[-1][1], "squat")
    assert len(reps) == 3
    # A quick dip (a third of the set's rep time), as when a squat set turns into lunges, does not go on either.
    dipped = ExerciseTracker()
    reps = [r for t, m in first for r in dipped.update(t, m, "squat")]
    dip = squat_frames(1, t0=first[-1][0], rest=0.3, period=1.6 / 3)
    reps += [r for t, m in dip for r in dipped.update(t, m, "none")]
    assert len(reps) == 2


def test_a_set_on_the_floor_does_not_go_on_standing_up():
    # Crunches recognised (lying: the hips level with the feet), then the trainee stands and bends the trunk at the
    # same pace while recognition says "none": those bends are not crunches.
    def crunch_frames(n: int, t0: float, hips: float, rest: float = 0.8):
        t, v = reps_signal(n, top=0.0, bottom=1.0, rest=rest, period=1.6)
        return [(t0 + ti, {"head_curl": 150 - 40 * d, "trunk_bend": 150 - 40 * d, "hip_height": hips,
                           "knee_angle": 80.0 if hips < 50 else 170.0}) for ti, d in zip(t, v)]
    tracker = ExerciseTracker()
    lying = crunch_frames(3, 0.0, hips=10.0)
    reps = [r for t, m in lying for r in tracker.update(t, m, "crunch")]
    assert len(reps) == 3
    standing = crunch_frames(3, lying[-1][0], hips=150.0, rest=0.2)   # stands up and goes on at once
    swings = sum(c.count for c in tracker.counters["crunch"].counters)
    shown_after_first_bend = []
    for t, m in standing:
        reps += tracker.update(t, m, "none")
        if sum(c.count for c in tracker.counters["crunch"].counters) > swings:   # the first standing bend is done
            shown_after_first_bend.append(tracker.set_in_progress(t))
    assert len(reps) == 3
    assert shown_after_first_bend and set(shown_after_first_bend) == {""}   # nor is "crunches" shown any more
    # The same bends still lying down go on as the set.
    again = ExerciseTracker()
    reps = [r for t, m in lying + crunch_frames(3, lying[-1][0], hips=10.0)
            for r in again.update(t, m, "crunch" if t < lying[-1][0] else "none")]
    assert len(reps) == 6


@pytest.mark.parametrize("lying, upright, expected", [(10.0, 55.0, 3), (None, None, 3), (80.0, 88.0, 0)],
                         ids=["lying-back", "trunk-unmeasurable", "sitting-up-talking"])
def test_a_crunch_starts_lying_back(lying, upright, expected):
    # The trunk bends at the hip as much sitting up and talking with the hands, or standing, as in a crunch; a
    # crunch starts lying back (the trunk within 60 deg of the floor on part of the rep). Seen head-on from the
    # feet the trunk's rise cannot be measured: no verdict, counted.
    counter = ExerciseCounter(CATALOGUE["crunch"])
    t, v = reps_signal(3, top=0.0, bottom=1.0, period=1.6, rest=0.8)
    reps = []
    for ti, d in zip(t, v):
        rise = None if lying is None else lying + (upright - lying) * d
        m = {"head_curl": 150 - 40 * d, "trunk_bend": 150 - 40 * d, "hip_height": 10.0, "trunk_rise": rise}
        reps += [r for r in [counter.update(float(ti), m)] if r]
    assert len(reps) == expected


@pytest.mark.parametrize("exercise", ["lunge", "squat"])
def test_a_close_up_that_cuts_the_torso_mid_rep_leaves_the_knee_to_finish_it(exercise):
    # A tutorial cuts to the legs at the bottom of the third rep: no shoulders, so no hip height and no blend; the
    # knee alone is seen rising, and it completes that rep. While the blend is seen, the knee alone never counts:
    # knees that bend with the hips staying up (high knees) are not a squat or a lunge.
    counter, tracker = ExerciseCounter(CATALOGUE[exercise]), ExerciseTracker()
    t, v = reps_signal(3, top=0.0, bottom=1.0, period=2.0, rest=1.0)
    cut = 1.0 + 2 * 3.0 + 1.0                          # the third rep's bottom
    reps, drawn = [], {}
    for ti, d in zip(t, v):
        m = {**squat_measures(float(d)), "hip_height": None if ti >= cut else 170 - 70 * float(d)}
        reps += [r for r in [counter.update(float(ti), m)] if r]
        tracker.update(float(ti), m, exercise)
        drawn[ti >= cut] = drawn.get(ti >= cut, set()) | {tracker.signal(exercise)[0] is None}
    assert len(reps) == 3
    # The signal drawn (annotate's strip) is the blend's, in its units; while the knee alone carries the rep, none.
    assert drawn == {False: {False}, True: {True}}
    hips_up = ExerciseCounter(CATALOGUE[exercise])
    reps = [r for ti, d in zip(t, v) if (r := hips_up.update(float(ti), {**squat_measures(float(d)),
                                                                       "hip_height": 170.0}))]
    assert reps == []


def test_recognition_naming_another_exercise_ends_the_set():
    tracker = ExerciseTracker()
    reps = []
    for t, m in squat_frames(6):
        reps += tracker.update(t, m, "squat" if t < 6.0 else "jumping_jack")
    assert tracker.counts["squat"] == 2 and tracker.counts["jumping_jack"] == 0 and len(reps) == 2


def test_a_switch_of_exercise_does_not_count_one_movement_twice():
    tracker = ExerciseTracker()
    reps = []
    frames = squat_frames(6)
    for t, m in frames:
        reps += tracker.update(t, m, "squat" if t < 8 else "lunge")   # recognition changes its mind mid-set
    total = tracker.counts["squat"] + tracker.counts["lunge"]
    assert total == 6 and len(reps) == 6


@pytest.mark.parametrize("trunk_rise, torso_seen, hands, expected",
                         [(8.0, True, -90.0, 4), (70.0, True, -10.0, 4), (None, True, -60.0, 4), (89.0, True, -90.0, 0),
                          (None, False, -90.0, 0), (40.0, True, 50.0, 0)])
def test_push_ups_need_a_leaning_body_not_an_upright_one(trunk_rise, torso_seen, hands, expected):
    # Floor (8 deg from lying), against a wall (70, hands at the shoulders), head-on (trunk not measurable, torso
    # seen) - or standing upright and bending the elbows (talking with the hands, curls), or cut at the chest by a
    # desk's camera, or sitting up with the hands behind the head (wrists half a torso above the shoulders).
    counter = ExerciseCounter(CATALOGUE["push_up"])
    t, v = reps_signal(4, top=170, bottom=80)
    incline = (trunk_rise if trunk_rise is not None else 85.0) if torso_seen else None
    reps = [r for ti, vi in zip(t, v)
            if (r := counter.update(float(ti), {"elbow_angle": float(vi), "trunk_rise": trunk_rise,
                                                "torso_incline": incline, "wrist_height": hands}))]
    assert len(reps) == expected


@pytest.mark.parametrize("together_every, expected", [(1, 4), (4 / 3, 4), (4, 0)])
def test_push_up_hands_must_be_seen_with_the_torso_they_carry(together_every, expected):
    # BlazePose hopping between people at a laptop: the bending arm is one person's, the torso seen another's, and
    # a wrist, a shoulder and a hip are seen together on one frame in four. A push-up filmed with a few frames that
    # lose the wrist (one in four) still counts.
    counter = ExerciseCounter(CATALOGUE["push_up"])
    t, v = reps_signal(4, top=170, bottom=80)
    reps = []
    for i, (ti, vi) in enumerate(zip(t, v)):
        together = int(i / together_every) != int((i - 1) / together_every) or i == 0
        m = {"elbow_angle": float(vi), "trunk_rise": None, "torso_incline": 70.0,
             "wrist_height": -40.0 if together else None}
        reps += [r for r in [counter.update(float(ti), m)] if r]
    assert len(reps) == expected


def test_elbows_bent_upright_that_end_on_a_few_leaning_frames_are_not_a_push_up():
    # Talking with the hands (elbows bending, trunk upright at 89 deg) and then, in a cut of an edited video or as
    # the trainee gets down, a few frames of a plank with straight arms: the elbow swing is a full one, but the body
    # leaned on 3 frames of 13. The same swing leaning all along, against a wall (73 deg), is a push-up.
    for trunk, expected in ((None, 0), (73.0, 1)):
        counter = ExerciseCounter(CATALOGUE["push_up"])
        frames = [(150.0, 89.0)] * 30 + [(150.0 - 7 * i, 89.0) for i in range(20)] + [(10.0, 89.0)] * 6
        frames += [(160.0, 55.0)] * 3 + [(160.0, 40.0)] * 30
        reps = []
        for i, (elbow, rise) in enumerate(frames):
            rise = rise if trunk is None else trunk
            m = {"elbow_angle": elbow, "trunk_rise": rise, "torso_incline": rise, "wrist_height": -40.0}
            reps += [r for r in [counter.update(i / 30, m)] if r]
        assert len(reps) == expected, trunk


def test_given_exercise_counts_from_the_first_frame_and_flush_credits_a_short_stream():
    tracker = ExerciseTracker({"push_up": 3})          # a resumed session keeps its count
    reps = []
    for t, m in squat_frames(2):
        reps += tracker.update(t, m, "squat")
    assert [r.number for r in reps] == [1, 2] and tracker.counts["push_up"] == 3
    short = ExerciseTracker()
    for t, m in squat_frames(1, rest=0.3):
        assert short.update(t, m, "none") == []           # a one-rep clip ends before recognition settles
    assert [r.number for r in short.flush("squat")] == [1]
    assert short.flush("squat") == []                    # flushed once


def test_a_rep_completed_once_the_body_is_gone_is_judged_on_all_its_frames():
    # A slow sit-up (9 s, its longest allowed is 10) lying back only in its first 1.5 s, then held half-up; the body
    # is lost as the trainee comes back up, and the rep completes 2 s later. The gates must still see the frames
    # where the trunk lay back (the 10th percentile of trunk_rise: 10 deg, not 70).
    counter = ExerciseCounter(CATALOGUE["crunch"])
    fps = 30.0
    frames = []
    for i in range(int(10.5 * fps)):
        t = i / fps
        if t < 1.0:
            bend = 150.0
        elif t < 2.0:
            bend = 150.0 - 40.0 * (t - 1.0)
        elif t < 9.0:
            bend = 110.0
        else:
            bend = 110.0 + 40.0 * (t - 9.0)
        frames.append((t, bend, 10.0 if 1.0 <= t < 2.5 else 70.0))
    reps, last = [], None
    for t, bend, rise in frames:
        m = {"head_curl": bend, "trunk_bend": bend, "hip_height": 10.0, "trunk_rise": rise}
        reps += [r for r in [counter.update(t, m)] if r]
        lead = counter.lead
        if lead.phase == "end" and lead.bands()[1] is not None and bend >= lead.bands()[1]:
            last = t
            break                                         # the body is lost here, on the way back up
    assert not reps and last is not None
    for k in range(1, 100):                               # 3.3 s of frames without a body
        reps += [r for r in [counter.update(last + k / fps, {})] if r]
    assert len(reps) == 1 and reps[0].ended_at == pytest.approx(last)
