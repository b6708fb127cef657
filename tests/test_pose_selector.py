"""PersonSelector: the tracker is moved from a bystander to the person exercising (pure logic, fake detector).

The fake detector plays a single-person pose model on a scene of two people: it finds the first person whose
region of the picture is not painted over, as BlazePose finds one person in a masked frame.
"""
import numpy as np
import pytest

from services.pose.selector import MASK_GREY, PersonSelector, SelectorConfig, bounding_box, masked, overlap

W, H = 200, 100


def person(x0: float, t: int = 0, moving: bool = False, scale: float = 1.0) -> np.ndarray:
    """A pose filling x0..x0+0.2 of the width; moving = the body bobs up and down (a squat) at 1 Hz; scale < 1:
    a smaller figure (further from the camera)."""
    rng = np.random.default_rng(int(x0 * 1000))
    lm = np.zeros((33, 4), np.float32)
    lm[:, 0] = x0 + rng.uniform(0.02, 0.18, 33)
    lm[:, 1] = rng.uniform(0.15, 0.85, 33)
    lm[:, 3] = 1.0
    if moving:
        lm[:, 1] += 0.3 * np.sin(2 * np.pi * t / 30.0) * (lm[:, 1] - 0.15)
    lm[:, 1] = 0.5 + (lm[:, 1] - 0.5) * scale
    return lm


class Scene:
    """Person A (x 0.1..0.3) and person B (x 0.6..0.8), drawn as patches inside their poses' boxes; which of
    them moves is up to the test."""

    def __init__(self, a_moves: bool, b_moves: bool, b_present: bool = True, b_scale: float = 1.0):
        self.a_moves, self.b_moves, self.b_present, self.b_scale = a_moves, b_moves, b_present, b_scale
        self.t = 0
        self.calls = 0

    def image(self) -> np.ndarray:
        img = np.zeros((H, W, 3), np.uint8)
        img[20:80, 25:55] = 200                      # person A's pixels
        if self.b_present:
            img[20:80, 125:155] = 90                 # person B's pixels
        return img

    def pose(self, who: str) -> np.ndarray:
        return person(0.1, self.t, self.a_moves) if who == "a" else person(0.6, self.t, self.b_moves, self.b_scale)

    def visible(self, image: np.ndarray) -> list[str]:
        out = []
        if not (image[20:80, 25:55] == MASK_GREY).all():
            out.append("a")
        if self.b_present and not (image[20:80, 125:155] == MASK_GREY).all():
            out.append("b")
        return out

    def detect(self, image: np.ndarray):
        """The probe: the first visible person."""
        self.calls += 1
        seen = self.visible(image)
        return self.pose(seen[0]) if seen else None


def run(scene: Scene, selector: PersonSelector, frames: int) -> list[str]:
    """Feeds frames; the 'tracker' keeps following whom it followed until restarted, then takes the first visible
    person in its input. Returns whom it followed on each frame."""
    following, out = None, []
    for t in range(frames):
        scene.t = t
        image = scene.image()
        seen = scene.visible(selector.tracker_input(image))
        if following not in seen:
            following = seen[0] if seen else None
        if selector.observe(image, None if following is None else scene.pose(following)):
            seen = scene.visible(selector.restarted_input(image))
            following = seen[0] if seen else None
        out.append(following)
    return out


def test_switches_from_a_bystander_to_the_person_exercising_and_masks_the_bystander():
    scene = Scene(a_moves=False, b_moves=True)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=30))
    followed = run(scene, selector, 150)
    assert followed[0] == "a"             # the tracker latched on to the bystander first ...
    assert followed[-1] == "b"            # ... and follows the trainee in the end
    assert selector.switches == 1
    switch = followed.index("b")
    assert switch <= 40                   # early probes: decided within the first 1.5 s at 30 fps
    assert set(followed[switch:]) == {"b"}
    hidden = selector.tracker_input(scene.image())
    assert (hidden[20:80, 25:55] == MASK_GREY).all() and not (hidden[20:80, 125:155] == MASK_GREY).all()


@pytest.mark.parametrize("a_moves,b_moves", [(True, False), (False, False), (True, True)])
def test_keeps_the_tracked_person_unless_the_other_clearly_moves_more(a_moves, b_moves):
    scene = Scene(a_moves, b_moves)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=30))
    assert set(run(scene, selector, 200)) == {"a"}
    assert selector.switches == 0
    assert not selector.masking


def test_a_small_figure_far_behind_is_not_the_trainee_however_it_moves():
    scene = Scene(a_moves=False, b_moves=True, b_scale=0.35)   # e.g. someone in a gym's mirror
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=30))
    assert set(run(scene, selector, 200)) == {"a"}
    assert selector.other is not None and selector.switches == 0


def test_alone_nothing_is_masked_and_probes_are_rare():
    scene = Scene(a_moves=True, b_moves=False, b_present=False)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=30))
    assert set(run(scene, selector, 300)) == {"a"}
    assert selector.other is None and not selector.masking
    # 6 probes in the first 60 frames (every 10), then one a second: ~3 % extra pose work after the start.
    assert scene.calls == 5 + len(range(60, 300, 30))


def test_no_switch_back_within_the_cooldown():
    config = SelectorConfig(cooldown_frames=10 ** 6)
    scene = Scene(a_moves=False, b_moves=True)
    selector = PersonSelector(scene.detect, config)
    followed = run(scene, selector, 90)
    assert followed[-1] == "b"
    scene.a_moves, scene.b_moves = True, False   # the bystander starts moving, the trainee rests
    followed = run(scene, selector, 200)
    assert set(followed) == {"b"} and selector.switches == 1


def test_probing_off():
    scene = Scene(a_moves=False, b_moves=True)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=0))
    assert set(run(scene, selector, 120)) == {"a"}
    assert scene.calls == 0


def test_nobody_for_a_while_forgets_the_bystander():
    scene = Scene(a_moves=False, b_moves=True)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=30))
    run(scene, selector, 90)
    assert selector.masking
    for _ in range(SelectorConfig().lost_frames):
        selector.tracker_input(scene.image())
        selector.observe(scene.image(), None)
    assert not selector.masking and selector.tracked is None


def test_boxes_and_masks():
    lm = person(0.1)
    box = bounding_box(lm, W, H)
    assert 0.08 * W < box[0] < lm[:, 0].min() * W and lm[:, 0].max() * W < box[2] < 0.32 * W
    assert overlap(box, box) == pytest.approx(1.0)
    assert overlap(box, bounding_box(person(0.6), W, H)) == 0.0
    img = np.full((H, W, 3), 10, np.uint8)
    out = masked(img, np.array([0, 0, 100, 100]), keep=np.array([50, 0, 150, 100]))
    assert (out[:, :50] == MASK_GREY).all() and (out[:, 50:] == 10).all()
    assert (img == 10).all()   # the original is left alone


def test_real_clip_the_estimator_moves_from_the_instructor_to_the_trainee(clips_dir):
    """computervision/squat_correct_012: BlazePose first follows the instructor standing on the left; with probing
    on, the worker's estimator restarts on the squatting trainee (on the right) and stays with them."""
    from offline.landmark_cache import extract
    from services.pose.estimator import PoseEstimator
    clip_path = clips_dir / "computervision" / "squat_correct_012.mp4"
    if not clip_path.is_file():
        pytest.skip(f"{clip_path} not found")
    estimator = PoseEstimator(max_sessions=1, probe_frames=30)
    try:
        clip = extract(clip_path, estimator=estimator, cache_dir=None)
    finally:
        estimator.close()
    hips_x = np.nanmean(clip.landmarks[:, [23, 24], 0], axis=1)
    assert np.nanmean(hips_x[:10]) < 0.4                 # the instructor, as without the selector
    assert np.nanmean(hips_x[-10:]) > 0.45               # the trainee, from the switch to the last frame
    off = PoseEstimator(max_sessions=1)                  # the default: probing off, the instructor throughout
    try:
        plain = extract(clip_path, estimator=off, cache_dir=None)
    finally:
        off.close()
    assert np.nanmean(plain.landmarks[-10:, [23, 24], 0]) < 0.4


def test_a_still_trainee_on_the_floor_is_never_left_for_someone_moving():
    """Holding a plank is exercising: a person walking by (moving a lot) does not take the tracker."""
    scene = Scene(a_moves=False, b_moves=True)
    selector = PersonSelector(scene.detect, SelectorConfig(probe_frames=10, early_probe_frames=10))
    planking = person(0.1)
    planking[[11, 12], :2] = (0.12, 0.5)      # shoulders and hips level: a body along the floor
    planking[[23, 24], :2] = (0.28, 0.52)
    switched = False
    for t in range(300):
        scene.t = t
        image = scene.image()
        selector.tracker_input(image)
        switched |= selector.observe(image, planking)
    assert not switched and selector.switches == 0
