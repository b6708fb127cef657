"""docker-compose.yml runs the same topology as `fitness-trainer up`, wired by environment variables only."""
import dataclasses
import re

import yaml

from common.config import PROJECT_ROOT, Settings
from common.topology import MONITOR, SERVICES as PIPELINE

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ENDPOINTS = [f.name for f in dataclasses.fields(Settings) if str(f.default).startswith("tcp://")]
PROTOCOL = (PROJECT_ROOT / "docs" / "PROTOCOL.md").read_text()


def _bound_by():
    """setting -> service that binds it, from the channel table of docs/PROTOCOL.md."""
    out = {}
    for line in PROTOCOL.splitlines():
        m = re.match(r"\| `(\w+)` \| [^|]*[→↔][^|]* \| ([^|]+) \|", line)
        if m and m.group(1) in ENDPOINTS:
            out[m.group(1)] = m.group(2).strip()
    return out


def test_compose_runs_exactly_the_services_of_the_topology_each_with_its_module():
    assert set(SERVICES) == {s.name for s in PIPELINE} | {MONITOR}
    for info in PIPELINE:
        assert SERVICES[info.name]["command"] == ["python", "-m", info.module], info.name
        # Only scalable services may run as several replicas.
        assert ("replicas" in SERVICES[info.name].get("deploy", {})) == info.scalable, info.name
    assert SERVICES[MONITOR]["command"] == ["fitness-trainer", "monitor"]
    assert SERVICES["pose"]["deploy"]["replicas"] >= 2


def test_every_endpoint_points_at_the_service_that_binds_it():
    bound_by = _bound_by()
    assert set(bound_by) == set(ENDPOINTS)
    for name, svc in SERVICES.items():
        env = svc["environment"]
        assert env["FT_BIND_HOST"] == "0.0.0.0"
        for endpoint in ENDPOINTS:
            value = env[f"FT_{endpoint.upper()}"]
            host, port = re.match(r"tcp://([\w.-]+):(\d+)$", value).groups()
            binder = bound_by[endpoint].split(" / ")[-1]   # "supervisor / monitor" -> monitor
            assert host == binder and host in SERVICES, (name, endpoint, value)
            assert port == getattr(Settings(), endpoint).rsplit(":", 1)[1], endpoint


def test_only_known_settings_are_configured():
    known = {f"FT_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    for name, svc in SERVICES.items():
        unknown = set(svc["environment"]) - known - {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
        assert not unknown, (name, unknown)


def test_ui_beyond_loopback_requires_a_token():
    ui = SERVICES["ui"]["environment"]
    assert ui["FT_UI_HOST"] == "0.0.0.0" and ":?" in ui["FT_UI_TOKEN"]
    assert all(p.startswith("127.0.0.1:") for p in SERVICES["ui"]["ports"])
