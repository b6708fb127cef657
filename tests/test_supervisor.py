"""The supervisor restarts a crashed or stuck service (capped, with back-off) and stops everything cleanly."""
import os
import signal
import time

import pytest

from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor


def wait_for(cond, timeout=20.0, step=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if step:
            step()
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervisor(tmp_path):
    settings = ipc_settings(str(tmp_path), stuck_after_s=3.0, max_restarts=2, restart_window_s=60.0)
    sup = Supervisor(settings, [ServiceSpec("broker", "services.pose.broker")], log_dir=str(tmp_path / "logs"))
    sup.start_all()
    yield sup
    sup.stop_all()


def tick(sup):
    return lambda: (sup.pump_health(10), sup.check(time.time()))


def test_crashed_service_is_restarted_and_reports_health(supervisor):
    supervisor.wait_ready(["broker"], timeout_s=30)
    first = supervisor.pids("broker")[0]
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: supervisor.pids("broker") and supervisor.pids("broker")[0] != first
                    and supervisor.monitor.last_seen_pid(supervisor.pids("broker")[0]), step=tick(supervisor))
    report = supervisor.monitor.report(time.time())
    assert any(s["service"] == "broker" and s["alive"] for s in report.services)
    assert supervisor.managed[0].total_restarts == 1


def test_stuck_service_is_killed_and_restarted(supervisor):
    supervisor.wait_ready(["broker"], timeout_s=30)
    first = supervisor.pids("broker")[0]
    os.kill(first, signal.SIGSTOP)   # alive but silent: no heartbeats
    assert wait_for(lambda: supervisor.pids("broker") and supervisor.pids("broker")[0] != first,
                    timeout=30, step=tick(supervisor))


def test_restarts_are_capped(supervisor):
    supervisor.wait_ready(["broker"], timeout_s=30)
    for _ in range(3):
        pids = supervisor.pids("broker")
        if not pids:
            break
        os.kill(pids[0], signal.SIGKILL)
        wait_for(lambda: supervisor.managed[0].gave_up or (supervisor.pids("broker") and
                 supervisor.pids("broker")[0] != pids[0]), step=tick(supervisor))
    assert wait_for(lambda: supervisor.managed[0].gave_up, timeout=10, step=tick(supervisor))
    assert supervisor.pids("broker") == []
    # The health report still names it, so the UI can show what is down.
    entry = [s for s in supervisor.report(time.time()).services if s["instance"] == "broker-1"]
    assert entry and entry[0]["alive"] is False and entry[0]["stats"]["state"] == "gave up"


def test_stop_all_terminates_every_child(supervisor):
    supervisor.wait_ready(["broker"], timeout_s=30)
    pid = supervisor.pids("broker")[0]
    supervisor.stop_all()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
