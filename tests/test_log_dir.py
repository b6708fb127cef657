"""`up` writes the services' logs where the settings say (log_dir), not always into the checkout."""
import threading

import launcher.signals as signals_module
import launcher.supervisor as supervisor_module
from launcher import cli


class FakeSupervisor:
    created = []

    def __init__(self, settings, specs, log_dir=None, context=None):
        self.log_dir = log_dir
        self.managed = specs
        self.stop_event = threading.Event()
        FakeSupervisor.created.append(self)

    def start_all(self):
        pass

    def run(self):
        pass

    def stop_all(self):
        pass


def test_up_uses_the_log_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setattr(supervisor_module, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(signals_module.signal, "signal", lambda *args: None)   # leave pytest's own handlers alone
    monkeypatch.setenv("FT_LOG_DIR", str(tmp_path / "from-env"))
    assert cli.main(["up"]) == 0
    assert FakeSupervisor.created[-1].log_dir == str(tmp_path / "from-env")
    assert cli.main(["up", "--log-dir", str(tmp_path / "from-option")]) == 0
    assert FakeSupervisor.created[-1].log_dir == str(tmp_path / "from-option")
