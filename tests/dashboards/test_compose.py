"""docker-compose.yml: pinned images, health checks, named volumes, required secrets;
``docker-compose config`` accepts it where the tool is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
_SECRETS = {
    "POSTGRES_PASSWORD": "a",
    "APP_DB_PASSWORD": "d",
    "GRAFANA_DB_PASSWORD": "b",
    "GRAFANA_ADMIN_PASSWORD": "c",
}


def _services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_services_of_the_production_shape() -> None:
    assert set(_services()) == {
        "timescaledb",
        "migrate",
        "simulator",
        "collector",
        "api",
        "grafana",
    }


@pytest.mark.parametrize("service", ["timescaledb", "grafana"])
def test_third_party_images_are_pinned_to_exact_versions(service: str) -> None:
    image = _services()[service]["image"]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(-pg\d+)?", image), image


@pytest.mark.parametrize("service", ["timescaledb", "simulator", "collector", "api", "grafana"])
def test_long_running_services_have_health_checks(service: str) -> None:
    assert _services()[service]["healthcheck"]["test"]


@pytest.mark.parametrize("service", ["simulator", "collector", "api"])
def test_long_running_pvmon_services_receive_docker_stop_themselves(service: str) -> None:
    """``docker compose stop`` sends SIGTERM to the container's first process: pvmon must
    be that process (exec form, or ``exec`` in a shell), or a shell swallows the signal
    and Docker kills pvmon 10 s later without its clean stop."""
    command = _services()[service]["command"]
    if command[0] == "sh":
        assert command[1] == "-c" and command[2].startswith("exec "), command
    else:
        assert command[0] in ("pvmon", "python"), command


def test_pvmon_services_build_from_the_dockerfile() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)
    for name in ("migrate", "simulator", "collector", "api"):
        assert _services()[name]["build"]["dockerfile"] == "Dockerfile"


def test_provisioned_dashboards_are_the_generated_ones() -> None:
    mounts = _services()["grafana"]["volumes"]
    assert "./dashboards/json:/var/lib/grafana/dashboards/pvmon:ro" in mounts
    for mount in mounts:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), source


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_the_file() -> None:
    env = {**os.environ, **_SECRETS}
    ok = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    missing = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    refused = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        env=missing,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr
