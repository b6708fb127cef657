"""The live services of the pipeline, in one list: `up`, the health panel and docker-compose.yml follow it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    name: str          # as in heartbeats, logs and the health panel
    module: str        # started as `python -m <module>`
    role: str          # one line for people reading the health panel or the docs
    scalable: bool     # any number of instances may run side by side
    count: str = ""    # the setting that says how many run (scalable services)
    sharded: bool = False   # each instance takes a share of the sessions and must be told which (`shard`)


# Pipeline order, which is also the order of a clean stop: sources first (no new frames), sinks last (they
# finish writing what is in flight); the relay last of all, since what the coaches send on their way out
# passes through it.
SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("capture", "services.capture", "frames from a file, a camera or the browser", False),
    ServiceInfo("broker", "services.pose.broker", "hands frames to idle pose workers", False),
    ServiceInfo("pose", "services.pose", "BlazePose workers", True, count="pose_workers"),
    ServiceInfo("classifier", "services.classifier", "exercise and phase of every frame (sessions sharded)", True,
                count="classifiers", sharded=True),
    ServiceInfo("coach", "services.coach", "reps, holds, form cues, sets and the workout history (sessions sharded)",
                True, count="coaches", sharded=True),
    ServiceInfo("speech", "services.speech", "spoken cues", False),
    ServiceInfo("ui", "services.ui", "web pages for trainees, instructors and analytics", False),
    ServiceInfo("relay", "services.relay", "carries the classified and coach channels from any number of "
                                           "classifiers and coaches to their subscribers", False),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
# The health channel: in `up` the supervisor plays it; in containers `fitness-trainer monitor` does.
MONITOR = "monitor"


def service(name: str) -> ServiceInfo:
    return next(s for s in SERVICES if s.name == name)
