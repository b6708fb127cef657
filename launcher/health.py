"""Health monitor logic: who sent a heartbeat when, and which instances are stale. No sockets."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.messages import HealthReport, Heartbeat


@dataclass
class _Instance:
    service: str
    instance: str
    pid: int
    first_seen: float
    last_seen: float
    stats: dict = field(default_factory=dict)


@dataclass
class HealthMonitor:
    """Keeps the last heartbeat of every service instance."""

    stale_after_s: float = 3.0
    forget_after_s: float = 60.0
    instances: dict[str, _Instance] = field(default_factory=dict)

    def on_heartbeat(self, beat: Heartbeat, now: float) -> None:
        inst = self.instances.get(beat.instance)
        if inst is None:
            inst = self.instances[beat.instance] = _Instance(beat.service, beat.instance, beat.pid, now, now)
        inst.last_seen, inst.stats, inst.pid = now, beat.stats, beat.pid

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

    def report(self, now: float, restarts: dict[int, int] | None = None) -> HealthReport:
        restarts = restarts or {}
        for key, inst in list(self.instances.items()):
            if now - inst.last_seen > self.forget_after_s:
                del self.instances[key]
        services = [{"service": i.service, "instance": i.instance, "pid": i.pid,
                     "alive": now - i.last_seen <= self.stale_after_s, "age_s": round(now - i.last_seen, 2),
                     "restarts": restarts.get(i.pid, 0), "stats": i.stats}
                    for i in sorted(self.instances.values(), key=lambda i: (i.service, i.instance))]
        return HealthReport(session="", ts_capture=now, services=services)
