"""deploy/k8s: valid Kubernetes objects (schemas bundled in kubernetes-validate, nothing fetched) that run exactly
the topology of `fitness-trainer up`, wired by the same settings as docker-compose.yml."""
import dataclasses
import re

import pytest
import yaml

from common.config import PROJECT_ROOT, Settings
from common.topology import MONITOR, SERVICES as PIPELINE

K8S_VERSION = "1.33.0"
FOLDER = PROJECT_ROOT / "deploy" / "k8s"
DOCS = [doc for path in sorted(FOLDER.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
WORKLOADS = {d["metadata"]["name"]: d for d in DOCS if d["kind"] in ("Deployment", "StatefulSet")}
K8S_SERVICES = {d["metadata"]["name"]: d for d in DOCS if d["kind"] == "Service"}
CONFIG = next(d for d in DOCS if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "fitness-trainer")["data"]
ENDPOINTS = [f.name for f in dataclasses.fields(Settings) if str(f.default).startswith("tcp://")]


def container(workload: dict) -> dict:
    [c] = workload["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_every_object_is_valid_against_the_kubernetes_schema(doc):
    import kubernetes_validate
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)   # raises on any error, unknown fields included


def test_the_validator_catches_mistakes():
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError
    broken = yaml.safe_load((FOLDER / "20-pose.yaml").read_text())
    broken["spec"]["replicas"] = "four"
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load((FOLDER / "20-pose.yaml").read_text())
    broken["spec"]["template"]["spec"]["containers"][0]["comand"] = ["python"]   # misspelt: strict refuses it
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_one_workload_per_service_of_the_topology():
    assert set(WORKLOADS) == {info.name for info in PIPELINE} | {MONITOR}
    assert container(WORKLOADS[MONITOR])["command"] == ["fitness-trainer", "monitor"]
    for info in PIPELINE:
        work = WORKLOADS[info.name]
        c = container(work)
        assert c["command"] == ["python", "-m", info.module], info.name
        assert {"configMapRef": {"name": "fitness-trainer"}} in c["envFrom"], info.name
        selector = work["spec"]["selector"]["matchLabels"]
        assert selector.items() <= work["spec"]["template"]["metadata"]["labels"].items(), info.name
        if info.sharded:
            # A StatefulSet: pod <name>-i is shard i, told by its own name; as many shards as the setting says.
            assert work["kind"] == "StatefulSet", info.name
            env = {e["name"]: e for e in c.get("env", [])}
            assert env["FT_SHARD"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            assert work["spec"]["replicas"] == int(CONFIG[f"FT_{info.count.upper()}"]) >= 2, info.name
            assert Settings(shard=f"{info.name}-1").shard_index(work["spec"]["replicas"]) == 1
            assert K8S_SERVICES[work["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
        elif info.scalable:
            assert work["kind"] == "Deployment" and work["spec"]["replicas"] >= 2, info.name
        else:
            assert work["kind"] == "Deployment" and work["spec"]["replicas"] == 1, info.name


def _bound_by() -> dict[str, str]:
    out = {}
    for line in (PROJECT_ROOT / "docs" / "PROTOCOL.md").read_text().splitlines():
        m = re.match(r"\| `(\w+)` \| [^|]*[→↔][^|]* \| ([^|]+) \|", line)
        if m and m.group(1) in ENDPOINTS:
            out[m.group(1)] = m.group(2).strip().split(" / ")[-1]
    return out


def test_every_endpoint_reaches_the_pods_that_bind_it():
    bound_by = _bound_by()
    assert set(bound_by) == set(ENDPOINTS)
    for endpoint in ENDPOINTS:
        host, port = re.match(r"tcp://([\w.-]+):(\d+)$", CONFIG[f"FT_{endpoint.upper()}"]).groups()
        assert port == getattr(Settings(), endpoint).rsplit(":", 1)[1], endpoint
        service = K8S_SERVICES[host]
        binder = WORKLOADS[bound_by[endpoint]]
        # The Service selects the binder's pods and forwards the port to a port the container declares.
        assert service["spec"]["selector"].items() <= binder["spec"]["template"]["metadata"]["labels"].items()
        [svc_port] = [p for p in service["spec"]["ports"] if str(p["port"]) == port]
        declared = {p["name"]: p["containerPort"] for p in container(binder).get("ports", [])}
        assert declared[svc_port["targetPort"]] == int(port), endpoint
    assert CONFIG["FT_BIND_HOST"] == "0.0.0.0"
    assert set(CONFIG) - {f"FT_{f.name.upper()}" for f in dataclasses.fields(Settings)} <= {
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}


def test_the_history_is_one_volume_on_one_node_for_every_coach_and_the_ui():
    claim = next(d for d in DOCS if d["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]      # never a network file system for SQLite
    for name in ("coach", "ui"):
        pod = WORKLOADS[name]["spec"]["template"]
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in container(WORKLOADS[name])["volumeMounts"]}
        assert volumes["workouts"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"], name
        assert CONFIG["FT_DB_PATH"].startswith(mounts["workouts"] + "/"), name
        # Every pod that opens the file runs on one node (SQLite WAL shares memory between them).
        [term] = pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), name


def test_the_ui_token_comes_from_a_secret_and_no_secret_is_committed():
    env = {e["name"]: e for e in container(WORKLOADS["ui"])["env"]}
    assert "secretKeyRef" in env["FT_UI_TOKEN"]["valueFrom"] and env["FT_UI_HOST"]["value"] == "0.0.0.0"
    assert not [d for d in DOCS if d["kind"] == "Secret"]
