"""deploy/kubernetes agrees with the Kubernetes API and with the CLI.

No cluster here: every manifest is validated against the Kubernetes OpenAPI schemas that ``kubernetes-validate``
ships (offline, strict: an unknown or misspelt field fails), the kustomizations are resolved by hand as
``kubectl apply -k`` would (resources, components), and the containers' commands are parsed by lrsearch's real
argparse parser and run up to the library call, as tests/test_compose.py does for the compose file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lrsearch.cli import build_parser
from lrsearch.storage import parse_url
from tests.conftest import ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate (dev extra)")

DEPLOY = ROOT / "deploy" / "kubernetes"
# The oldest release with every field used (Job backoffLimitPerIndex is GA in 1.33), and the newest schemas shipped.
VERSIONS = ["1.33.0", kubernetes_validate.latest_version()]


def _kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def build(directory: Path) -> list[dict[str, Any]]:
    """The resources ``kubectl apply -k DIRECTORY`` would apply (resources and components, recursively)."""
    kust = _kustomization(directory)
    docs: list[dict[str, Any]] = []
    for entry in kust.get("resources", []) + kust.get("components", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory / 'kustomization.yaml'}: {entry} does not exist"
        if path.is_dir():
            docs += build(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return build(DEPLOY / "base")


@pytest.fixture(scope="module")
def with_postgres() -> list[dict[str, Any]]:
    return build(DEPLOY / "examples" / "with-postgres")


def _manifests() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_is_valid_against_the_kubernetes_schemas(path: Path, version: str) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field(base: list[dict[str, Any]]) -> None:
    job = yaml.safe_load(yaml.safe_dump(by_kind(base, "Job", "lrsearch-workers")))
    job["spec"]["paralellism"] = job["spec"].pop("parallelism")
    with pytest.raises(kubernetes_validate.ValidationError, match="paralellism"):
        kubernetes_validate.validate(job, VERSIONS[-1], strict=True)


def test_every_manifest_is_applied_by_some_kustomization(with_postgres: list[dict[str, Any]]) -> None:
    applied = {(d["kind"], d["metadata"]["name"]) for d in with_postgres}
    on_disk = {(d["kind"], d["metadata"]["name"]) for p in _manifests() for d in yaml.safe_load_all(p.read_text()) if d}
    assert applied == on_disk
    assert _kustomization(DEPLOY / "components" / "postgres")["kind"] == "Component"


def test_the_base_has_workers_and_a_dashboard_and_no_database(base: list[dict[str, Any]]) -> None:
    assert sorted((d["kind"], d["metadata"]["name"]) for d in base) == [
        ("Deployment", "lrsearch-dashboard"), ("Job", "lrsearch-workers"), ("Service", "lrsearch-dashboard")]


def test_workers_are_an_indexed_job_of_gpu_pods_that_survive_interruption(base: list[dict[str, Any]]) -> None:
    from lrsearch.runner._supervisor import SHUTDOWN_WAIT_S

    job = by_kind(base, "Job", "lrsearch-workers")["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["parallelism"] == job["completions"] >= 1
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    # SIGTERM, then SIGKILL after the grace period: the worker waits SHUTDOWN_WAIT_S for its processes.
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_WAIT_S
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy needs it
    rules = job["podFailurePolicy"]["rules"]
    exit_codes = [r["onExitCodes"] for r in rules if "onExitCodes" in r]
    assert exit_codes == [{"containerName": container["name"], "operator": "In", "values": [130]}]
    assert all(r["action"] == "Ignore" for r in rules)


def test_sigterm_makes_the_worker_exit_with_the_code_the_job_ignores(monkeypatch: pytest.MonkeyPatch) -> None:
    from lrsearch.runner import RunSummary

    monkeypatch.setenv("LRSEARCH_STORAGE", "postgresql+psycopg://u:p@db/x")
    monkeypatch.setattr("lrsearch.runner.workers.serve", lambda url, **kw: {
        "s": RunSummary(study="s", storage=url, stopped_by="interrupted")})
    monkeypatch.setattr("lrsearch.runner.open_stored_study", lambda url, name: None)
    monkeypatch.setattr("lrsearch.runner.describe_run", lambda handle, summary: "interrupted")
    args = build_parser().parse_args(["worker"])
    assert args.func(args) == 130


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_the_worker_command_resolves_to_the_right_library_call(base: list[dict[str, Any]],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (container,) = by_kind(base, "Job", "lrsearch-workers")["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[0] == "lrsearch"
    args = build_parser().parse_args(command[1:])
    assert args.func.__module__ == "lrsearch.cli._worker"
    for key in list(os.environ):
        if key.startswith("LRSEARCH_"):
            monkeypatch.delenv(key)
    env = _env(container)
    assert env.pop("LRSEARCH_STORAGE") == {"secretKeyRef": {"name": "lrsearch-storage", "key": "url"}}
    monkeypatch.setenv("LRSEARCH_STORAGE", "postgresql+psycopg://lrsearch:pw@lrsearch-postgres:5432/lrsearch")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("lrsearch.runner.workers.serve", lambda url, **kw: calls.append({"url": url, **kw}) or {})
    assert args.func(args) == 0
    (call,) = calls
    assert call["url"].endswith("@lrsearch-postgres:5432/lrsearch")
    assert call["devices"] == "auto" and call["trials_per_device"] == 1 and call["workers"] == 1
    assert call["studies"] is None, "an empty LRSEARCH_STUDY means every study with budget left"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(call["log_dir"]) == env["LRSEARCH_LOG_DIR"] and env["LRSEARCH_LOG_DIR"] in mounts


def test_the_dashboard_listens_where_its_service_and_probe_point(base: list[dict[str, Any]]) -> None:
    deployment = by_kind(base, "Deployment", "lrsearch-dashboard")
    service = by_kind(base, "Service", "lrsearch-dashboard")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["command"][1:])
    assert container["command"][0] == "lrsearch"
    assert args.func.__module__ == "lrsearch.cli._dashboard" and args.func.__name__ == "dashboard"
    assert args.host == "0.0.0.0"
    (port,) = container["ports"]
    assert port["containerPort"] == args.port
    assert container["readinessProbe"]["httpGet"] == {"path": "/dashboard", "port": port["name"]}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    assert _env(container)["LRSEARCH_STORAGE"] == {"secretKeyRef": {"name": "lrsearch-storage", "key": "url"}}


def test_the_optional_database_is_what_the_storage_secret_names(with_postgres: list[dict[str, Any]]) -> None:
    storage = by_kind(with_postgres, "Secret", "lrsearch-storage")["stringData"]
    credentials = by_kind(with_postgres, "Secret", "lrsearch-postgres")["stringData"]
    statefulset = by_kind(with_postgres, "StatefulSet", "lrsearch-postgres")["spec"]
    service = by_kind(with_postgres, "Service", "lrsearch-postgres")
    url = parse_url(storage["url"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.database) == (
        credentials["POSTGRES_USER"], credentials["POSTGRES_PASSWORD"], credentials["POSTGRES_DB"])
    assert url.host == service["metadata"]["name"] == statefulset["serviceName"]
    assert url.port == service["spec"]["ports"][0]["port"]
    (container,) = statefulset["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "lrsearch-postgres"}}]
    assert service["spec"]["selector"].items() <= statefulset["template"]["metadata"]["labels"].items()
    (claim,) = statefulset["volumeClaimTemplates"]
    assert container["volumeMounts"] == [{"name": claim["metadata"]["name"], "mountPath": "/var/lib/postgresql/data"}]
    # Enough connections for the workers: see the many-workers table in benchmarks/RESULTS.md.
    (max_connections,) = re.findall(r"max_connections=(\d+)", " ".join(container["args"]))
    assert int(max_connections) >= 200


def test_every_lrsearch_variable_in_the_manifests_is_one_the_cli_reads() -> None:
    from lrsearch.cli._dashboard import STORAGE_ENV
    from lrsearch.cli._worker import ENV

    used = set(re.findall(r"\bLRSEARCH_\w+", " ".join(p.read_text() for p in DEPLOY.rglob("*.yaml"))))
    assert used and used <= set(ENV.values()) | {STORAGE_ENV}


def test_the_image_is_the_one_the_dockerfile_builds(base: list[dict[str, Any]]) -> None:
    images = _kustomization(DEPLOY / "base")["images"]
    assert [i["name"] for i in images] == ["lrsearch"]
    for doc in base:
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            assert container["image"] == "lrsearch"
    assert re.search(r'^CMD \["lrsearch", "worker"\]', (ROOT / "Dockerfile").read_text(), flags=re.M)
