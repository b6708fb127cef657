"""A service's own health: unhealthy while its handlers keep failing or while it reports a problem. No sockets."""
from __future__ import annotations

OK, UNHEALTHY = "ok", "unhealthy"


class HealthState:
    """Handler outcomes in two consecutive windows, plus named problems a service sets and clears itself.

    Unhealthy when, over the current and the previous window, at least `min_failures` messages failed and they are at
    least `failure_share` of those handled: a stray bug hit by one odd message is counted, not alarming; a handler
    that fails on most of its messages (a store that refuses every write) is. Healthy again after a quiet window.
    """

    def __init__(self, window_s: float = 10.0, min_failures: int = 5, failure_share: float = 0.5):
        self.window_s = window_s
        self.min_failures = min_failures
        self.failure_share = failure_share
        self.problems: dict[str, str] = {}
        self._window = 0
        self._counts = [[0, 0], [0, 0]]   # [previous, current] window: [handled, failed]
        self._last_failure = ""

    def _roll(self, now: float) -> list[int]:
        window = int(now // self.window_s)
        if window != self._window:
            self._counts = [self._counts[1] if window == self._window + 1 else [0, 0], [0, 0]]
            self._window = window
        return self._counts[1]

    def handled(self, now: float) -> None:
        self._roll(now)[0] += 1

    def failed(self, now: float, what: str) -> None:
        current = self._roll(now)
        current[0] += 1
        current[1] += 1
        self._last_failure = what

    def set_problem(self, name: str, reason: str | None) -> None:
        """A problem the service knows about (e.g. its store refuses writes); None clears it."""
        if reason:
            self.problems[name] = reason
        else:
            self.problems.pop(name, None)

    def state(self, now: float) -> tuple[str, str]:
        """("ok", "") or ("unhealthy", why)."""
        self._roll(now)
        handled = self._counts[0][0] + self._counts[1][0]
        failed = self._counts[0][1] + self._counts[1][1]
        reasons = list(self.problems.values())
        if failed >= self.min_failures and failed >= self.failure_share * handled:
            reasons.append(f"{failed} of {handled} messages failed in {2 * self.window_s:.0f} s "
                           f"(last: {self._last_failure})")
        return (UNHEALTHY, "; ".join(reasons)) if reasons else (OK, "")
