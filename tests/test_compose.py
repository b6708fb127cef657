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


def _instances(info) -> list[str]:
    """Compose service names of one topology service: a sharded one runs one service per shard (name, name-1, ...),
    since each instance must be told its shard; the others run as one service (scalable: with replicas)."""
    if not info.sharded:
        return [info.name]
    count = int(COMPOSE["x-common"]["environment"][f"FT_{info.count.upper()}"])
    return [info.name] + [f"{info.name}-{i}" for i in range(1, count)]


def test_compose_runs_exactly_the_services_of_the_topology_each_with_its_module():
    assert set(SERVICES) == {name for info in PIPELINE for name in _instances(info)} | {MONITOR}
    for info in PIPELINE:
        for shard, name in enumerate(_instances(info)):
            assert SERVICES[name]["command"] == ["python", "-m", info.module], name
            # Only scalable services that need no shard of their own may run as several replicas.
            assert ("replicas" in SERVICES[name].get("deploy", {})) == (info.scalable and not info.sharded), name
            if info.sharded:
                assert SERVICES[name]["environment"]["FT_SHARD"] == str(shard), name
    assert SERVICES[MONITOR]["command"] == ["fitness-trainer", "monitor"]
    assert SERVICES["pose"]["deploy"]["replicas"] >= 2
    # Scaled out by default, so the sharded path is the one compose runs.
    assert len(_instances(next(i for i in PIPELINE if i.name == "classifier"))) >= 2
    assert len(_instances(next(i for i in PIPELINE if i.name == "coach"))) >= 2


def test_every_coach_shares_the_one_history_volume_with_the_ui():
    coaches = [n for info in PIPELINE if info.name == "coach" for n in _instances(info)]
    for name in coaches + ["ui"]:
        assert "workouts:/data" in SERVICES[name]["volumes"], name


def test_compose_is_valid_against_the_compose_specification():
    """The Compose spec's JSON schema as check-jsonschema vendors it: nothing is fetched."""
    from check_jsonschema.builtin_schemas import get_builtin_schema
    from jsonschema.validators import validator_for
    schema = get_builtin_schema("vendor.compose-spec")
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    # The validator sees mistakes: a service with an unknown key is refused.
    broken = {**COMPOSE, "services": {**SERVICES, "ui": {**SERVICES["ui"], "replica": 2}}}
    assert list(validator.iter_errors(broken))


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
