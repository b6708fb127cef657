"""Health monitor logic: who sent a heartbeat when, is it one of ours, which instances are stale or unhealthy.
No sockets."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.health_state import OK
from common.identity import signed_by
from common.messages import HealthReport, Heartbeat


@dataclass
class _Instance:
    service: str
    instance: str
    pid: int
    first_seen: float
    last_seen: float
    stats: dict = field(default_factory=dict)

    @property
    def health(self) -> str:
        return str(self.stats.get("health", OK))

    @property
    def reason(self) -> str:
        return str(self.stats.get("health_reason", ""))


@dataclass(frozen=True)
class HealthChange:
    """An instance turned unhealthy (or healthy again): the console says so."""

    service: str
    instance: str
    pid: int
    health: str
    reason: str


@dataclass
class HealthMonitor:
    """Keeps the last heartbeat of every service instance it trusts.

    Trusted: signed with the key of a process the supervisor started (`trust(pid, key)`), or with the deployment's
    shared key (`shared_key`, for containers and remote pose workers). `open` trusts every sender: containers on
    a private network without a key, or a health channel whose connections CURVE already authenticates. Anything
    else is counted by kind and ignored, so strangers can neither invent services nor hide real ones.
    """

    stale_after_s: float = 3.0
    forget_after_s: float = 60.0
    shared_key: str = ""
    open: bool = False
    max_instances: int = 256
    max_clock_skew_s: float = 60.0
    instances: dict[str, _Instance] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)   # pid -> key of the processes the supervisor started
    ignored: dict[str, int] = field(default_factory=dict)

    def trust(self, pid: int, key: str) -> None:
        self.keys[pid] = key

    def distrust(self, pid: int) -> None:
        self.keys.pop(pid, None)

    def admits(self, beat: Heartbeat, now: float) -> str | None:
        """None if the heartbeat is trusted, else why not (the kind it is counted as)."""
        if self.open:
            return None
        key = self.keys.get(beat.pid)
        if not (signed_by(key or "", beat) or signed_by(self.shared_key, beat)):
            return "unsigned" if not beat.signature else "bad_signature"
        if abs(now - beat.ts_capture) > self.max_clock_skew_s:
            return "stale_signature"
        return None

    def on_heartbeat(self, beat: Heartbeat, now: float) -> HealthChange | None:
        """Record a heartbeat; returns the change when the instance's health changed (or it arrived unhealthy)."""
        refused = self.admits(beat, now)
        if refused is not None:
            self.ignored[refused] = self.ignored.get(refused, 0) + 1
            return None
        inst = self.instances.get(beat.instance)
        before = inst.health if inst is not None else OK
        if inst is None:
            if len(self.instances) >= self.max_instances:
                # Bounded even against a trusted sender that goes wrong: forget who was heard from longest ago.
                del self.instances[min(self.instances, key=lambda k: self.instances[k].last_seen)]
            inst = self.instances[beat.instance] = _Instance(beat.service, beat.instance, beat.pid, now, now)
        inst.last_seen, inst.stats, inst.pid = now, dict(beat.stats), beat.pid
        if inst.health != before:
            return HealthChange(inst.service, inst.instance, inst.pid, inst.health, inst.reason)
        return None

    def last_seen_pid(self, pid: int) -> float | None:
        times = [i.last_seen for i in self.instances.values() if i.pid == pid]
        return max(times) if times else None

    def alive(self, service: str, now: float) -> list[_Instance]:
        return [i for i in self.instances.values()
                if i.service == service and now - i.last_seen <= self.stale_after_s]

    def stats_of(self, pid: int) -> dict:
        for inst in self.instances.values():
            if inst.pid == pid:
                return inst.stats
        return {}

    def unhealthy(self, now: float) -> list[_Instance]:
        """Instances alive and unhealthy (a dead one is reported dead, not unhealthy)."""
        return [i for i in self.instances.values() if i.health != OK and now - i.last_seen <= self.stale_after_s]

    def report(self, now: float, restarts: dict[int, int] | None = None) -> HealthReport:
        restarts = restarts or {}
        for key, inst in list(self.instances.items()):
            if now - inst.last_seen > self.forget_after_s:
                del self.instances[key]
        services = [{"service": i.service, "instance": i.instance, "pid": i.pid,
                     "alive": now - i.last_seen <= self.stale_after_s, "health": i.health, "reason": i.reason,
                     "age_s": round(now - i.last_seen, 2), "restarts": restarts.get(i.pid, 0), "stats": i.stats}
                    for i in sorted(self.instances.values(), key=lambda i: (i.service, i.instance))]
        monitor = {f"ignored.{kind}": n for kind, n in self.ignored.items()}
        return HealthReport(session="", ts_capture=now, services=services, monitor=monitor)
