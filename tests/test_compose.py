"""docker-compose.yml, Dockerfile and .dockerignore agree with the CLI and with each other.

No Docker engine here: the compose file is parsed as YAML, its ``${VAR:-default}`` values are interpolated as
Compose does, and its commands are parsed by lrsearch's real argparse parser and run up to the library call.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (optuna-dashboard brings tomli there)
    import tomli as tomllib

from lrsearch.cli import build_parser
from lrsearch.storage import parse_url
from tests.conftest import ROOT

_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${VAR}`` / ``${VAR:-default}`` substitution (``$$`` is a literal ``$``)."""
    if isinstance(value, str):
        text = _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value.replace("$$", "\0"))
        return text.replace("\0", "$")
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return interpolate(compose["services"], {})


def test_the_stack_has_postgres_a_dashboard_and_workers(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "dashboard", "worker"}
    for name in ("dashboard", "worker"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["build"] == "."


def test_postgres_keeps_its_data_in_a_volume_and_checks_its_health(compose: dict[str, Any],
                                                                   services: dict[str, Any]) -> None:
    pg = services["postgres"]
    volume = pg["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in compose["volumes"]
    check = " ".join(pg["healthcheck"]["test"])
    assert "pg_isready" in check and "${POSTGRES_USER}" in check and "${POSTGRES_DB}" in check


def test_every_storage_url_points_at_the_postgres_service(services: dict[str, Any]) -> None:
    pg = services["postgres"]["environment"]
    for name in ("dashboard", "worker"):
        url = parse_url(services[name]["environment"]["LRSEARCH_STORAGE"])
        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port) == ("postgres", 5432)
        assert (url.username, url.password, url.database) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"],
                                                              pg["POSTGRES_DB"])


def test_a_changed_password_reaches_the_database_and_every_url(compose: dict[str, Any]) -> None:
    services = interpolate(compose["services"], {"POSTGRES_PASSWORD": "n3w-secret", "POSTGRES_USER": "ml"})
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "n3w-secret"
    for name in ("dashboard", "worker"):
        url = parse_url(services[name]["environment"]["LRSEARCH_STORAGE"])
        assert (url.username, url.password) == ("ml", "n3w-secret")


def test_the_dashboard_command_parses_and_listens_on_the_published_port(services: dict[str, Any]) -> None:
    command = services["dashboard"]["command"]
    assert command[0] == "lrsearch"
    args = build_parser().parse_args(command[1:])
    assert args.func.__module__ == "lrsearch.cli._dashboard" and args.func.__name__ == "dashboard"
    assert args.host == "0.0.0.0"
    host_port, container_port = services["dashboard"]["ports"][0].split(":")
    assert int(container_port) == args.port and int(host_port) == 8080


def test_the_worker_command_resolves_to_the_right_library_call(services: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    worker = services["worker"]
    command = worker["command"]
    assert command[0] == "lrsearch"
    args = build_parser().parse_args(command[1:])
    assert args.func.__module__ == "lrsearch.cli._worker"
    for key in list(os.environ):
        if key.startswith("LRSEARCH_"):
            monkeypatch.delenv(key)
    for key, value in worker["environment"].items():
        monkeypatch.setenv(key, value)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("lrsearch.runner.workers.serve", lambda url, **kw: calls.append({"url": url, **kw}) or {})
    assert args.func(args) == 0
    (call,) = calls
    assert call["url"] == worker["environment"]["LRSEARCH_STORAGE"]
    assert call["devices"] == "auto" and call["trials_per_device"] == 1 and call["workers"] == 1
    assert call["studies"] is None, "an empty LRSEARCH_STUDY means every study with budget left"
    assert call["poll"] == 30.0
    mount = worker["volumes"][0].split(":")[1]
    assert str(call["log_dir"]) == mount == worker["environment"]["LRSEARCH_LOG_DIR"]


def test_every_lrsearch_variable_in_the_compose_file_is_one_the_cli_reads(compose: dict[str, Any]) -> None:
    from lrsearch.cli._dashboard import STORAGE_ENV
    from lrsearch.cli._worker import ENV

    used = set(re.findall(r"\bLRSEARCH_\w+", (ROOT / "docker-compose.yml").read_text()))
    assert used and used <= set(ENV.values()) | {STORAGE_ENV}


def test_workers_reserve_gpus_and_stop_gracefully(services: dict[str, Any]) -> None:
    worker = services["worker"]
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert worker["deploy"]["replicas"] >= 1
    assert worker["stop_grace_period"] == "2m"


def test_the_image_installs_the_extras_the_services_need() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    (wanted,) = re.findall(r'pip install "\.\[([\w,]+)\]"', dockerfile)
    assert set(wanted.split(",")) == {"postgres", "dashboard"} and set(wanted.split(",")) <= extras
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
        assert list(ROOT.glob(source)), f"COPY {source}: nothing in the repository matches"
    assert "EXPOSE 8080" in dockerfile
    assert re.search(r'^CMD \["lrsearch", "worker"\]', dockerfile, flags=re.M)


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", "*.db", "**/lrsearch-logs", ".git"):
        assert entry in ignored
    assert "lrsearch" not in ignored and "pyproject.toml" not in ignored
