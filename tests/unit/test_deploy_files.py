"""The deployment examples say what the README says: docker/compose.yaml (two web replicas, a
separate worker, PostgreSQL, Redis) and docker/kubernetes/ (a Secret, a web Deployment with
probes, a worker Deployment, a Service). Parsed here, and the compose file validated by
`docker-compose config` (tests/run installs Debian's docker-compose), since no Docker engine
or cluster runs the tests; every KCPR_ name in them must be a setting the service reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from keycloak_pwreset.settings import Settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def is_setting(name: str) -> bool:
    """Does KCPR_<NAME> (nested with __) name a field of Settings?"""
    model: type[BaseModel] = Settings
    *parents, leaf = name.removeprefix("KCPR_").lower().split("__")
    for part in parents:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return leaf in model.model_fields


def test_the_setting_check_itself_tells_names_apart() -> None:
    assert is_setting("KCPR_LIMITS__STORAGE_URI") and is_setting("KCPR_RUN_WORKER")
    assert not is_setting("KCPR_LIMITS__STORAGE") and not is_setting("KCPR_RUN_WORKERS")


def test_docker_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    program = shutil.which("docker-compose")
    assert program, "docker-compose is missing: bash tests/run installs it (apt-get)"

    def config(path: Path) -> subprocess.CompletedProcess[str]:
        argv = [program, "-f", str(path), "config", "-q"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    shipped = config(DOCKER / "compose.yaml")
    assert shipped.returncode == 0, shipped.stderr
    # And it would say so if the file were wrong (an option it does not know).
    broken = tmp_path / "compose.yaml"
    broken.write_text((DOCKER / "compose.yaml").read_text().replace("image:", "imagex:"))
    assert "imagex" in config(broken).stderr


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return loaded["services"]


def test_compose_runs_two_web_replicas_a_worker_postgres_and_redis(
    compose: dict[str, Any],
) -> None:
    assert {"postgres", "redis", "keycloak", "mail", "pwreset", "worker"} <= set(compose)
    web, worker = compose["pwreset"], compose["worker"]
    assert web["deploy"]["replicas"] == 2
    assert web["environment"]["KCPR_RUN_WORKER"] == "false"
    assert worker["command"] == ["keycloak-pwreset", "worker"]
    assert worker["environment"] == web["environment"]  # one set of settings
    settings = web["environment"]
    assert settings["KCPR_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert settings["KCPR_LIMITS__STORAGE_URI"] == "redis://redis:6379/0"
    assert all(is_setting(name) for name in settings), sorted(settings)


def test_compose_publishes_on_loopback_only(compose: dict[str, Any]) -> None:
    published = [port for service in compose.values() for port in service.get("ports", [])]
    assert published and all(str(port).startswith("127.0.0.1:") for port in published)


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((DOCKER / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_kubernetes_has_a_secret_two_deployments_and_a_service(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert set(manifests) == {
        ("Secret", "keycloak-pwreset-settings"),
        ("Deployment", "keycloak-pwreset-web"),
        ("Deployment", "keycloak-pwreset-worker"),
        ("Service", "keycloak-pwreset"),
    }
    secret = manifests[("Secret", "keycloak-pwreset-settings")]["stringData"]
    assert all(is_setting(name) for name in secret), sorted(secret)
    for name in ("web", "worker"):
        deployment = manifests[("Deployment", f"keycloak-pwreset-{name}")]
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
        assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        [source] = container(deployment)["envFrom"]
        assert source["secretRef"]["name"] == "keycloak-pwreset-settings"


def test_the_web_deployment_is_probed_and_the_worker_apart(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    web = container(manifests[("Deployment", "keycloak-pwreset-web")])
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "KCPR_RUN_WORKER", "value": "false"} in web["env"]
    worker = container(manifests[("Deployment", "keycloak-pwreset-worker")])
    assert worker["command"] == ["keycloak-pwreset", "worker"]
    # The worker serves nothing but its metrics; the Service reaches the pages only.
    assert [p["name"] for p in worker["ports"]] == ["metrics"]
    service = manifests[("Service", "keycloak-pwreset")]["spec"]
    web_labels = manifests[("Deployment", "keycloak-pwreset-web")]["spec"]["template"]
    assert service["selector"] == web_labels["metadata"]["labels"]
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    for part in (web, worker):
        metrics_port = {e["name"]: e["value"] for e in part["env"]}["KCPR_METRICS_PORT"]
        assert {"name": "metrics", "containerPort": int(metrics_port)} in part["ports"]
