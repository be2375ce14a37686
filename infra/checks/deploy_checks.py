"""Checks of the deployment configuration: compose, k8s, Dockerfiles, Prometheus, Grafana.

Every `check_*` function takes parsed data and returns a list of error strings (empty = fine),
so tests can feed it broken input. `validate.py` runs them on the repository, together with the
external tools (promtool, kustomize, docker compose) when they are installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from deployables import (
    COMPOSE_ONLY_ENV,
    DEPLOYABLES,
    EMULATOR,
    INGRESS_FORBIDDEN_ENV,
    SECRET_ENV,
    SERVICES,
    WORKSPACE_PYPROJECTS,
    Deployable,
)
from dockerfiles import render

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
K8S_DIR = ROOT / "k8s"
PROMETHEUS_DIR = ROOT / "infra" / "prometheus"
GRAFANA_DIR = ROOT / "infra" / "grafana"
ALERTMANAGER_FILE = ROOT / "infra" / "alertmanager" / "alertmanager.yml"
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
K8S_OVERLAYS = ("staging", "production")

INFRA_SERVICES = ("mongo", "rabbitmq", "redis", "prometheus", "alertmanager", "grafana", "mailpit")
# compose service -> container port that must be published on the host
# The port every Deployment serves /metrics and the detailed health routes on (METRICS_PORT).
METRICS_PORT = 9090
PUBLISHED_PORTS = {
    "payments-api": 8000,
    "webhook-ingress": 8001,
    "web": 8080,
    "cashfree-emulator": 8090,
    "grafana": 3000,
    "prometheus": 9090,
    "alertmanager": 9093,
    "mailpit": 8025,
    "rabbitmq": 15672,
}
# Metrics the services expose; each must be used by an alert or the dashboard.
PAYCORE_METRICS = (
    "paycore_http_requests_total",
    "paycore_http_request_duration_seconds_bucket",
    "paycore_payments_total",
    "paycore_payment_attempts_total",
    "paycore_webhooks_received_total",
    "paycore_webhook_processing_seconds_bucket",
    "paycore_dead_letter_messages",
    "paycore_consumer_retries_total",
    "paycore_emails_total",
    "paycore_gateway_calls_total",
    "paycore_reconciliation_mismatches_total",
    "paycore_fraud_decisions_total",
    "paycore_refund_duration_seconds_bucket",
)
# Values that must never sit in a k8s manifest: long random-looking strings or credentials in
# URLs (user:password@host).
CREDENTIAL_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


# --- loading ---------------------------------------------------------------------------------


def load_yaml_documents(path: Path) -> list[Any]:
    """Every document of a (possibly multi-document) YAML file; empty documents dropped."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def yaml_files() -> list[Path]:
    files = [COMPOSE_FILE]
    for folder in (K8S_DIR, PROMETHEUS_DIR, GRAFANA_DIR, ALERTMANAGER_FILE.parent):
        files += sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"})
    return files


def check_yaml_files(paths: Iterable[Path]) -> list[str]:
    errors = []
    for path in paths:
        try:
            docs = load_yaml_documents(path)
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{_rel(path)}: does not parse: {exc}")
            continue
        if not docs:
            errors.append(f"{_rel(path)}: no YAML document")
        for index, doc in enumerate(docs):
            if not isinstance(doc, dict):
                errors.append(f"{_rel(path)}: document {index} is not a mapping")
    return errors


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --- compose -------------------------------------------------------------------------------


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's environment as a dict, whether written as a mapping or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _published_container_ports(service: Mapping[str, Any]) -> set[int]:
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def _check_healthcheck(name: str, service: Mapping[str, Any]) -> list[str]:
    health = service.get("healthcheck")
    if not isinstance(health, dict) or health.get("disable") or not health.get("test"):
        return [f"compose: {name}: no healthcheck"]
    return []


def check_compose(compose: Mapping[str, Any]) -> list[str]:
    errors: list[str] = []
    services = compose.get("services")
    if not isinstance(services, dict):
        return ["compose: no services"]
    for name in (*INFRA_SERVICES, *(d.name for d in DEPLOYABLES)):
        if name not in services:
            errors.append(f"compose: service {name} is missing")
    for deployable in DEPLOYABLES:
        service = services.get(deployable.name)
        if not isinstance(service, dict):
            continue
        errors += _check_healthcheck(deployable.name, service)
        errors += _check_compose_build(deployable, service)
        errors += _check_depends_on(
            deployable.name, service, services, stores=deployable.uses_stores
        )
        env = compose_environment(service)
        if deployable is EMULATOR:
            if not env.get("EMULATOR_WEBHOOK_URLS", "").startswith("http://webhook-ingress:8001/"):
                errors.append(
                    "compose: cashfree-emulator: EMULATOR_WEBHOOK_URLS must target the ingress"
                )
            continue
        for variable in deployable.env:
            if not env.get(variable):
                errors.append(f"compose: {deployable.name}: environment lacks {variable}")
        if env.get("PORT") and env["PORT"] != str(deployable.port):
            errors.append(
                f"compose: {deployable.name}: PORT={env['PORT']}, expected {deployable.port}"
            )
        if env.get("HOST") and env["HOST"] != "0.0.0.0":  # noqa: S104 - compared, not bound
            errors.append(f"compose: {deployable.name}: HOST must be 0.0.0.0 in a container")
        if deployable.name == "webhook-ingress":
            for variable in sorted(INGRESS_FORBIDDEN_ENV & env.keys()):
                errors.append(f"compose: webhook-ingress must not get {variable}")
    for name in INFRA_SERVICES:
        if isinstance(services.get(name), dict):
            errors += _check_healthcheck(name, services[name])
    for name, port in PUBLISHED_PORTS.items():
        service = services.get(name)
        if isinstance(service, dict) and port not in _published_container_ports(service):
            errors.append(f"compose: {name}: port {port} is not published")
    mongo = services.get("mongo")
    if isinstance(mongo, dict) and "--replSet" not in (mongo.get("command") or []):
        errors.append("compose: mongo must run as a replica set (--replSet)")
    return errors


def _check_compose_build(deployable: Deployable, service: Mapping[str, Any]) -> list[str]:
    build = service.get("build")
    if not isinstance(build, dict):
        return [f"compose: {deployable.name}: no build section"]
    errors = []
    if build.get("context") not in (".", "./"):
        errors.append(f"compose: {deployable.name}: build context must be the repository root")
    if build.get("dockerfile") != deployable.dockerfile:
        errors.append(f"compose: {deployable.name}: dockerfile must be {deployable.dockerfile}")
    return errors


def _check_depends_on(
    name: str, service: Mapping[str, Any], services: Mapping[str, Any], *, stores: bool = True
) -> list[str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return [f"compose: {name}: depends_on must use condition: service_healthy"]
    errors = []
    for dependency, spec in depends.items():
        if dependency not in services:
            errors.append(f"compose: {name}: depends on unknown service {dependency}")
        if not isinstance(spec, dict) or spec.get("condition") != "service_healthy":
            errors.append(f"compose: {name}: {dependency} must be condition: service_healthy")
    if stores and name != EMULATOR.name:
        for store in ("mongo", "redis", "rabbitmq"):
            if store not in depends:
                errors.append(f"compose: {name}: does not wait for {store}")
    return errors


# --- kubernetes ----------------------------------------------------------------------------


def _containers(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def _looks_secret(name: str, value: str) -> bool:
    if name in SECRET_ENV or re.search(r"SECRET|PASSWORD|TOKEN|PRIVATE_KEY", name):
        return True
    return bool(CREDENTIAL_URL.match(value))


def check_k8s_deployment(deployment: Mapping[str, Any], source: str) -> list[str]:
    name = deployment.get("metadata", {}).get("name", "?")
    where = f"{source}: Deployment {name}"
    errors: list[str] = []
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    pod_security = pod.get("securityContext") or {}
    containers = pod.get("containers") or []
    if not containers:
        return [f"{where}: no containers"]
    for container in containers:
        cname = f"{where} container {container.get('name', '?')}"
        security = {**pod_security, **(container.get("securityContext") or {})}
        if security.get("runAsNonRoot") is not True:
            errors.append(f"{cname}: runAsNonRoot is not true")
        if security.get("runAsUser") == 0:
            errors.append(f"{cname}: runs as uid 0")
        if security.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{cname}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{cname}: allowPrivilegeEscalation is not false")
        for probe in ("readinessProbe", "livenessProbe"):
            spec = container.get(probe)
            if not isinstance(spec, dict):
                errors.append(f"{cname}: no {probe}")
            elif not str(spec.get("httpGet", {}).get("path", "")).startswith("/health"):
                errors.append(f"{cname}: {probe} must GET /health (or /health/ready)")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    errors.append(f"{cname}: no {kind}.{resource}")
        if not container.get("ports"):
            errors.append(f"{cname}: no ports")
    for container in _containers(deployment):
        cname = f"{where} container {container.get('name', '?')}"
        for entry in container.get("env") or []:
            var = entry.get("name", "?")
            if "value" in entry and _looks_secret(var, str(entry["value"])):
                errors.append(f"{cname}: {var} has a literal value; use secretKeyRef")
            if var in SECRET_ENV and "secretKeyRef" not in (entry.get("valueFrom") or {}):
                errors.append(f"{cname}: {var} must come from a Secret by secretKeyRef")
    return errors


def check_k8s_documents(docs: Iterable[Mapping[str, Any]], source: str) -> list[str]:
    """Checks any set of manifests: Deployments, and no Secret carrying values."""
    errors: list[str] = []
    for doc in docs:
        kind = doc.get("kind")
        name = doc.get("metadata", {}).get("name", "?")
        if kind == "Deployment":
            errors += check_k8s_deployment(doc, source)
        elif kind == "Secret" and (doc.get("data") or doc.get("stringData")):
            errors.append(f"{source}: Secret {name} carries values; secrets are never committed")
        elif kind == "HorizontalPodAutoscaler" and doc.get("apiVersion") != "autoscaling/v2":
            errors.append(f"{source}: HorizontalPodAutoscaler {name} must be autoscaling/v2")
        elif kind == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if _looks_secret(key, str(value)):
                    errors.append(f"{source}: ConfigMap {name}: {key} looks like a secret")
    return errors


def check_k8s_services_complete(
    docs: Iterable[Mapping[str, Any]], config_keys: set[str], source: str
) -> list[str]:
    """A whole deployment (base or overlay): every service complete, the ingress isolated."""
    by_kind: dict[str, dict[str, Mapping[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind", "?"), {})[doc.get("metadata", {}).get("name", "?")] = doc
    errors: list[str] = []
    for service in SERVICES:
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            if service.name not in by_kind.get(kind, {}):
                errors.append(f"{source}: {kind} {service.name} is missing")
        deployment = by_kind.get("Deployment", {}).get(service.name)
        if deployment is None:
            continue
        container = (_containers(deployment) or [{}])[0]
        env_names = {entry.get("name") for entry in container.get("env") or []}
        for variable in service.env:
            if variable in COMPOSE_ONLY_ENV:
                continue
            if variable not in env_names and variable not in config_keys:
                errors.append(f"{source}: Deployment {service.name} lacks {variable}")
        if service.name == "webhook-ingress":
            for variable in sorted(INGRESS_FORBIDDEN_ENV & env_names):
                errors.append(f"{source}: webhook-ingress must not get {variable}")
        ports = {p.get("containerPort") for p in container.get("ports") or []}
        if service.port not in ports:
            errors.append(f"{source}: Deployment {service.name} does not expose {service.port}")
        annotations = deployment["spec"]["template"].get("metadata", {}).get("annotations", {})
        named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        if named.get("metrics") != METRICS_PORT:
            errors.append(f"{source}: Deployment {service.name}: no `metrics` port {METRICS_PORT}")
        env_values = {e.get("name"): e.get("value") for e in container.get("env") or []}
        if env_values.get("METRICS_PORT") != str(METRICS_PORT):
            errors.append(
                f"{source}: Deployment {service.name}: METRICS_PORT is not {METRICS_PORT}"
            )
        if annotations.get("prometheus.io/port") != str(METRICS_PORT):
            errors.append(f"{source}: Deployment {service.name}: prometheus.io/port annotation")
        readiness = (container.get("readinessProbe") or {}).get("httpGet") or {}
        if readiness.get("port") != "metrics":
            errors.append(f"{source}: Deployment {service.name}: readiness must probe `metrics`")
    for name in by_kind.get("Deployment", {}):
        if name == EMULATOR.name:
            errors.append(f"{source}: the Cashfree emulator must not be deployed to k8s")
    errors += check_ingress_isolation(list(by_kind.get("NetworkPolicy", {}).values()), source)
    return errors


def _selects_ingress(policy: Mapping[str, Any]) -> bool:
    selector = policy.get("spec", {}).get("podSelector") or {}
    labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if labels.get("app.kubernetes.io/name", "webhook-ingress") != "webhook-ingress":
        return False
    for expression in expressions:
        values = expression.get("values") or []
        if expression.get("key") == "app.kubernetes.io/name":
            operator = expression.get("operator")
            if operator == "In" and "webhook-ingress" not in values:
                return False
            if operator == "NotIn" and "webhook-ingress" in values:
                return False
        elif (
            expression.get("key") == "app.kubernetes.io/part-of"
            and expression.get("operator") == "In"
            and "paycore" not in values
        ):
            return False
    return True


def _from_monitoring_only(rule: Mapping[str, Any]) -> bool:
    peers = rule.get("from") or []
    return bool(peers) and all(
        (peer.get("namespaceSelector") or {})
        .get("matchLabels", {})
        .get("kubernetes.io/metadata.name")
        == "monitoring"
        for peer in peers
    )


def check_ingress_isolation(policies: list[Mapping[str, Any]], source: str) -> list[str]:
    """The ingress: a default deny, in on 8001 only, out only to the stores and DNS."""
    errors: list[str] = []
    if not any(
        p.get("spec", {}).get("podSelector") in ({}, None)
        and {"Ingress", "Egress"} <= set(p.get("spec", {}).get("policyTypes") or [])
        and not p.get("spec", {}).get("ingress")
        and not p.get("spec", {}).get("egress")
        for p in policies
    ):
        errors.append(f"{source}: no default-deny NetworkPolicy")
    applying = [p for p in policies if _selects_ingress(p)]
    if not any(
        (p.get("spec", {}).get("podSelector") or {})
        .get("matchLabels", {})
        .get("app.kubernetes.io/name")
        == "webhook-ingress"
        for p in applying
    ):
        errors.append(f"{source}: no NetworkPolicy of its own for webhook-ingress")
    allowed_egress_ports = {53, 27017, 6379, 26379, 5672, 5671}
    for policy in applying:
        pname = policy.get("metadata", {}).get("name", "?")
        spec = policy.get("spec", {})
        for rule in spec.get("ingress") or []:
            ports = {p.get("port") for p in rule.get("ports") or []}
            # The webhook port, or the metrics port (scraped, never public).
            if ports not in ({8001}, {"metrics"}):
                errors.append(f"{source}: {pname}: webhook-ingress may only accept 8001")
        for rule in spec.get("egress") or []:
            ports = {p.get("port") for p in rule.get("ports") or []}
            if not rule.get("to") or not ports or not ports <= allowed_egress_ports:
                errors.append(
                    f"{source}: {pname}: webhook-ingress egress beyond DNS and data stores"
                )
            if any("ipBlock" in peer for peer in rule.get("to") or []):
                errors.append(f"{source}: {pname}: webhook-ingress egress to an ipBlock")
    return errors


def k8s_config_keys(base_dir: Path = K8S_DIR / "base") -> set[str]:
    """Keys of the ConfigMaps generated in the base (configMapGenerator literals)."""
    keys: set[str] = set()
    for path in base_dir.rglob("kustomization.yaml"):
        for doc in load_yaml_documents(path):
            for generator in doc.get("configMapGenerator") or []:
                keys |= {literal.split("=", 1)[0] for literal in generator.get("literals", [])}
    return keys


def k8s_base_documents() -> list[tuple[str, dict[str, Any]]]:
    """The base manifests as written (no kustomize needed), with their file names."""
    docs = []
    for path in sorted((K8S_DIR / "base").rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(_rel(path), doc) for doc in load_yaml_documents(path)]
    return docs


def check_kustomizations(root: Path = K8S_DIR) -> list[str]:
    """Every resource a kustomization lists exists (what kustomize would reject)."""
    errors = []
    for path in sorted(root.rglob("kustomization.yaml")):
        for doc in load_yaml_documents(path):
            for resource in doc.get("resources") or []:
                if not (path.parent / resource).exists():
                    errors.append(f"{_rel(path)}: resource {resource} does not exist")
    base = load_yaml_documents(root / "base" / "kustomization.yaml")[0]
    for service in SERVICES:
        if service.name not in (base.get("resources") or []):
            errors.append(f"k8s/base/kustomization.yaml: {service.name} not listed")
    for overlay in K8S_OVERLAYS:
        if not (root / "overlays" / overlay / "kustomization.yaml").exists():
            errors.append(f"k8s/overlays/{overlay}: no kustomization.yaml")
    return errors


# --- Dockerfiles ---------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        logical = ""
    return instructions


def check_dockerfile(text: str, deployable: Deployable) -> list[str]:
    where = deployable.dockerfile
    instructions = parse_dockerfile(text)
    froms = [i for i in instructions if i.keyword == "FROM"]
    errors = []
    if len(froms) < 2:
        errors.append(f"{where}: not multi-stage (needs a builder and a runtime FROM)")
    last_from = max((n for n, i in enumerate(instructions) if i.keyword == "FROM"), default=0)
    runtime = instructions[last_from:]
    users = [i.args for i in runtime if i.keyword == "USER"]
    if not users:
        errors.append(f"{where}: the runtime stage sets no USER")
    elif users[-1].split(":")[0] in {"root", "0"}:
        errors.append(f"{where}: the runtime stage runs as root")
    if not any(i.keyword == "HEALTHCHECK" and "/health" in i.args for i in runtime):
        errors.append(f"{where}: no HEALTHCHECK on /health")
    if not any(i.keyword == "EXPOSE" and str(deployable.port) in i.args.split() for i in runtime):
        errors.append(f"{where}: does not EXPOSE {deployable.port}")
    cmd = [i.args for i in runtime if i.keyword == "CMD"]
    expected_cmd = ["python", "-m", deployable.import_name]
    try:
        if not cmd or json.loads(cmd[-1]) != expected_cmd:
            errors.append(f"{where}: CMD must be {json.dumps(expected_cmd)}")
    except json.JSONDecodeError:
        errors.append(f"{where}: CMD must be in exec (JSON) form")
    syncs = [i.args for i in instructions if i.keyword == "RUN" and "uv sync" in i.args]
    if not any("--no-install-workspace" in s for s in syncs) or len(syncs) < 2:
        errors.append(f"{where}: dependencies must be synced first (--no-install-workspace)")
    if not all("--locked" in s and f"--package {deployable.name}" in s for s in syncs):
        errors.append(f"{where}: uv sync must be --locked --package {deployable.name}")
    if "python:3.11-slim" not in text:
        errors.append(f"{where}: base image must be python:3.11-slim")
    return errors


def check_dockerfiles(root: Path = ROOT) -> list[str]:
    errors = []
    for deployable in DEPLOYABLES:
        path = root / deployable.dockerfile
        if not path.exists():
            errors.append(f"{deployable.dockerfile}: missing")
            continue
        text = path.read_text()
        errors += check_dockerfile(text, deployable)
        if text != render(deployable):
            errors.append(
                f"{deployable.dockerfile}: differs from the template; run "
                "`uv run python infra/checks/dockerfiles.py`"
            )
    return errors


def workspace_pyprojects(root: Path = ROOT) -> list[str]:
    """The pyproject.toml of every workspace member, from the root pyproject's member globs."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    members = config["tool"]["uv"]["workspace"]["members"]
    found = set()
    for pattern in members:
        for folder in root.glob(pattern):
            if (folder / "pyproject.toml").exists():
                found.add(_rel(folder / "pyproject.toml"))
    return sorted(found)


def check_workspace_members(root: Path = ROOT) -> list[str]:
    missing = set(workspace_pyprojects(root)) - set(WORKSPACE_PYPROJECTS)
    return [
        f"Dockerfiles: workspace member {path} is not copied (add it to "
        "WORKSPACE_PYPROJECTS in infra/checks/deployables.py and re-render)"
        for path in sorted(missing)
    ]


# --- Prometheus and Grafana ----------------------------------------------------------------


def check_prometheus_config(config: Mapping[str, Any]) -> list[str]:
    errors = []
    targets: set[str] = set()
    for job in config.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            targets |= set(static.get("targets") or [])
    for service in SERVICES:
        if f"{service.name}:{service.port}" not in targets:
            errors.append(f"prometheus.yml: does not scrape {service.name}:{service.port}")
    if "rabbitmq:15692" not in targets:
        errors.append("prometheus.yml: does not scrape rabbitmq:15692")
    for rule_file in config.get("rule_files") or []:
        if not (PROMETHEUS_DIR / rule_file).exists():
            errors.append(f"prometheus.yml: rule file {rule_file} does not exist")
    if not config.get("rule_files"):
        errors.append("prometheus.yml: no rule_files")
    managers = [
        target
        for manager in (config.get("alerting") or {}).get("alertmanagers") or []
        for static in manager.get("static_configs") or []
        for target in static.get("targets") or []
    ]
    if "alertmanager:9093" not in managers:
        errors.append("prometheus.yml: alerting does not send to alertmanager:9093")
    return errors


def check_alertmanager_config(config: Mapping[str, Any]) -> list[str]:
    """Every alert reaches a receiver that emails (compose: the SMTP catcher)."""
    errors = []
    receivers = {r.get("name"): r for r in config.get("receivers") or []}
    route = config.get("route") or {}
    names = [route.get("receiver"), *(r.get("receiver") for r in route.get("routes") or [])]
    for name in names:
        if name not in receivers:
            errors.append(f"alertmanager.yml: route to unknown receiver {name}")
        elif not receivers[name].get("email_configs"):
            errors.append(f"alertmanager.yml: receiver {name} sends no email")
    if not str((config.get("global") or {}).get("smtp_smarthost", "")).startswith("mailpit:"):
        errors.append("alertmanager.yml: smtp_smarthost must be the compose SMTP catcher")
    return errors


def alert_rules(rules_file: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for group in rules_file.get("groups") or []
        for rule in group.get("rules") or []
        if "alert" in rule
    ]


def check_alert_rules(rules_file: Mapping[str, Any]) -> list[str]:
    errors = []
    rules = alert_rules(rules_file)
    if not rules:
        return ["alerts.yml: no alert rules"]
    names = [rule["alert"] for rule in rules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"alerts.yml: alert {name} is defined twice")
    for rule in rules:
        name = rule["alert"]
        if not str(rule.get("expr", "")).strip():
            errors.append(f"alerts.yml: {name}: no expr")
        if (rule.get("labels") or {}).get("severity") not in {"critical", "warning", "info"}:
            errors.append(f"alerts.yml: {name}: severity must be critical, warning or info")
        if not (rule.get("annotations") or {}).get("summary"):
            errors.append(f"alerts.yml: {name}: no summary annotation")
        runbook = (rule.get("annotations") or {}).get("runbook_url")
        if runbook != f"docs/runbooks/{name}.md":
            errors.append(f"alerts.yml: {name}: runbook_url must be docs/runbooks/{name}.md")
        elif not (RUNBOOKS_DIR / f"{name}.md").exists():
            errors.append(f"alerts.yml: {name}: runbook {runbook} does not exist")
    # An alert may use a metric through a recording rule.
    every_rule = [r for g in rules_file.get("groups") or [] for r in g.get("rules") or []]
    exprs = " ".join(str(rule.get("expr", "")) for rule in every_rule)
    for metric in PAYCORE_METRICS:
        family = re.sub(r"_bucket$", "", metric)
        if family not in exprs:
            errors.append(f"alerts.yml: no alert uses {metric}")
    return errors


def check_rule_tests(rules_file: Mapping[str, Any], tests_file: Mapping[str, Any]) -> list[str]:
    """Every alert has a promtool case where it fires and one where it stays quiet."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in tests_file.get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    errors = []
    for rule in alert_rules(rules_file):
        name = rule["alert"]
        if name not in firing:
            errors.append(f"rules.test.yml: no case where {name} fires")
        if name not in quiet:
            errors.append(f"rules.test.yml: no case where {name} stays quiet")
    return errors


def dashboard_exprs(dashboard: Mapping[str, Any]) -> list[str]:
    exprs = []
    stack = list(dashboard.get("panels") or [])
    while stack:
        panel = stack.pop()
        stack += panel.get("panels") or []
        exprs += [t["expr"] for t in panel.get("targets") or [] if t.get("expr")]
    return exprs


def check_grafana(datasources: Mapping[str, Any], dashboards: Mapping[str, Any]) -> list[str]:
    """`dashboards` maps a file name to its parsed JSON."""
    errors = []
    uids = {ds.get("uid") for ds in datasources.get("datasources") or []}
    if not uids or None in uids:
        errors.append("grafana: every provisioned datasource needs a uid")
    if not dashboards:
        errors.append("grafana: no dashboard")
    used_metrics = ""
    for name, dashboard in dashboards.items():
        if not dashboard.get("uid") or not dashboard.get("title"):
            errors.append(f"grafana: {name}: needs a uid and a title")
        ids: list[int] = []
        stack = list(dashboard.get("panels") or [])
        while stack:
            panel = stack.pop()
            stack += panel.get("panels") or []
            ids.append(panel.get("id"))
            if panel.get("type") == "row":
                continue
            title = panel.get("title", "?")
            targets = panel.get("targets") or []
            if not targets or not all(t.get("expr") for t in targets):
                errors.append(f"grafana: {name}: panel {title!r} has a target without expr")
            for source in [panel.get("datasource"), *(t.get("datasource") for t in targets)]:
                if isinstance(source, dict) and source.get("uid") not in uids:
                    errors.append(f"grafana: {name}: panel {title!r} uses unknown datasource")
            if "gridPos" not in panel:
                errors.append(f"grafana: {name}: panel {title!r} has no gridPos")
        if len(ids) != len(set(ids)):
            errors.append(f"grafana: {name}: panel ids are not unique")
        used_metrics += " ".join(dashboard_exprs(dashboard))
    for metric in PAYCORE_METRICS:
        if dashboards and re.sub(r"_bucket$", "", metric) not in used_metrics:
            errors.append(f"grafana: no panel shows {metric}")
    return errors


def check_generated_dashboards() -> list[str]:
    """The per-area dashboards are what infra/grafana/dashboards.py writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dashboards", GRAFANA_DIR / "dashboards.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = []
    for area in module.AREAS:
        path = GRAFANA_DIR / "dashboards" / f"paycore-{area}.json"
        if not path.exists() or path.read_text() != module.render(area):
            errors.append(
                f"grafana: {path.name} differs from infra/grafana/dashboards.py; run "
                "`uv run python infra/grafana/dashboards.py`"
            )
    return errors


def grafana_dashboards() -> dict[str, Any]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    }


def grafana_datasources() -> dict[str, Any]:
    merged: dict[str, Any] = {"datasources": []}
    for path in sorted((GRAFANA_DIR / "provisioning" / "datasources").glob("*.y*ml")):
        for doc in load_yaml_documents(path):
            merged["datasources"] += doc.get("datasources") or []
    return merged


# --- external tools ------------------------------------------------------------------------


@dataclass
class ToolResult:
    name: str
    ok: bool
    skipped: bool
    output: str


def _run(name: str, command: list[str], cwd: Path = ROOT) -> ToolResult:
    done = subprocess.run(  # noqa: S603 - our own tool and arguments
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    return ToolResult(name, done.returncode == 0, False, (done.stdout + done.stderr).strip())


def _skip(name: str, why: str) -> ToolResult:
    return ToolResult(name, True, True, why)


# Where `make install` and install-*.sh put tools (the Makefile adds them to PATH; a bare
# `uv run pytest` may not have them on its PATH).
TOOL_DIRS = (Path.home() / ".local" / "bin", Path.home() / "go" / "bin")


def find_tool(name: str) -> str | None:
    """The path of a command on PATH or in one of `TOOL_DIRS`, else None."""
    extra = os.pathsep.join(str(d) for d in TOOL_DIRS)
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra)


def promtool_checks() -> list[ToolResult]:
    promtool = find_tool("promtool")
    names = ["promtool check config", "promtool check rules", "promtool test rules"]
    if promtool is None:
        why = "promtool not on PATH (install: infra/checks/install-promtool.sh)"
        return [_skip(name, why) for name in [*names, "promtool: dashboard queries"]]
    results = [
        _run(names[0], [promtool, "check", "config", "prometheus.yml"], PROMETHEUS_DIR),
        _run(names[1], [promtool, "check", "rules", "alerts.yml"], PROMETHEUS_DIR),
        _run(names[2], [promtool, "test", "rules", "rules.test.yml"], PROMETHEUS_DIR),
    ]
    results.append(promtool_dashboard_queries(promtool))
    return results


def promtool_dashboard_queries(promtool: str) -> ToolResult:
    """Grafana's PromQL is checked by promtool as recording rules (Grafana variables filled)."""
    rules = []
    for name, dashboard in grafana_dashboards().items():
        for index, expr in enumerate(dashboard_exprs(dashboard)):
            filled = (
                expr.replace("$__rate_interval", "5m")
                .replace("$__interval", "1m")
                .replace("$service", ".*")
            )
            stem = re.sub(r"\W", "_", Path(name).stem)
            rules.append({"record": f"dashboard:{stem}:q{index}", "expr": filled})
    content = yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as handle:
        handle.write(content)
        handle.flush()
        result = _run("promtool: dashboard queries", [promtool, "check", "rules", handle.name])
    return result


def kustomize_command() -> list[str] | None:
    kustomize = find_tool("kustomize")
    if kustomize:
        return [kustomize, "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render_kustomization(path: Path) -> tuple[ToolResult, list[dict[str, Any]]]:
    name = f"kustomize {_rel(path)}"
    command = kustomize_command()
    if command is None:
        return _skip(
            name, "neither kustomize nor kubectl (install: infra/checks/install-kustomize.sh)"
        ), []
    result = _run(name, [*command, str(path)])
    if not result.ok:
        return result, []
    docs = [doc for doc in yaml.safe_load_all(result.output) if doc]
    result.output = f"{len(docs)} objects"
    return result, docs


def compose_cli_check() -> ToolResult:
    """`docker compose config -q`: the full compose-spec validation, no engine needed."""
    name = "docker compose config"
    standalone = find_tool("docker-compose")
    if standalone:
        return _run(name, [standalone, "-f", str(COMPOSE_FILE), "config", "-q"])
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)  # noqa: S607 - docker is looked up on PATH on purpose
        if probe.returncode == 0:
            return _run(name, ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"])
    return _skip(
        name,
        "no docker compose plugin nor docker-compose (install: infra/checks/install-compose.sh)",
    )
