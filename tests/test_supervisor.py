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


def test_children_keep_the_callers_pythonpath_with_the_project_root_first(tmp_path, monkeypatch):
    """A service started from a non-editable install or an extra site directory must still import what the
    caller's PYTHONPATH provides (issue #12): the supervisor adds the project root, it does not replace."""
    from common.config import PROJECT_ROOT
    extra = tmp_path / "site"
    extra.mkdir()
    out = tmp_path / "probe.txt"
    # A module only the caller's PYTHONPATH can find; it also imports the project's own code.
    (extra / "ft_extra_probe.py").write_text(
        "import os, sys\nimport common.config\n"
        f"open({str(out)!r}, 'w').write(os.environ['PYTHONPATH'] + '\\n' + common.config.__file__)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(extra), "/nonexistent/other"]))
    monkeypatch.setenv("FT_PROBE_KEEP_ME", "yes")
    settings = ipc_settings(str(tmp_path))
    sup = Supervisor(settings, [ServiceSpec("probe", "ft_extra_probe", restart=False)], log_dir=str(tmp_path / "logs"))
    try:
        assert sup.env["FT_PROBE_KEEP_ME"] == "yes" and sup.env["FT_POSES"] == settings.poses
        sup.start_all()
        assert wait_for(lambda: out.exists() and out.read_text().count("\n") == 1, timeout=30), \
            (tmp_path / "logs" / "probe-1.log").read_text() if (tmp_path / "logs" / "probe-1.log").exists() else ""
    finally:
        sup.stop_all()
    pythonpath, imported = out.read_text().splitlines()
    assert pythonpath.split(os.pathsep) == [str(PROJECT_ROOT), str(extra), "/nonexistent/other"]
    assert imported.startswith(str(PROJECT_ROOT))


def test_child_env_does_not_repeat_the_project_root():
    from common.config import PROJECT_ROOT, Settings
    from launcher.supervisor import child_env
    env = child_env({"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), "/a"]), "OMP_NUM_THREADS": "4"}, Settings())
    assert env["PYTHONPATH"] == os.pathsep.join([str(PROJECT_ROOT), "/a"])
    assert env["OMP_NUM_THREADS"] == "4" and env["OPENBLAS_NUM_THREADS"] == "1"   # an explicit value wins
    assert child_env({}, Settings())["PYTHONPATH"] == str(PROJECT_ROOT)


def test_pipeline_specs_start_every_shard_with_its_index():
    from common.config import Settings
    from launcher.supervisor import pipeline_specs
    specs = pipeline_specs(Settings(classifiers=3, coaches=2), pose_workers=4)
    names = [s.name for s in specs]
    assert names.count("pose") == 4 and names.count("broker") == 1 and names.count("relay") == 1
    assert [s.args for s in specs if s.name == "classifier"] == [["--shard", "0"], ["--shard", "1"], ["--shard", "2"]]
    assert [s.args for s in specs if s.name == "coach"] == [["--shard", "0"], ["--shard", "1"]]
    assert all(s.args == [] for s in specs if s.name == "pose")


def test_up_takes_classifier_and_coach_counts():
    from launcher.cli import build_parser
    args = build_parser().parse_args(["up", "--classifiers", "3", "--coaches", "2", "--pose-workers", "4"])
    assert (args.classifiers, args.coaches, args.pose_workers) == (3, 2, 4)
