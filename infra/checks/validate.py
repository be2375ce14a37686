"""Validates the deployment configuration without Docker or a cluster.

    uv run python infra/checks/validate.py [--require-tools]

Parses every YAML file (compose.yaml, k8s/, infra/prometheus, infra/grafana) and the Grafana
dashboards, checks compose, the k8s manifests, the Dockerfiles and the observability config,
then runs the external tools it finds: promtool (config, rules, rule unit tests, dashboard
queries), kustomize or kubectl (renders base and overlays, which are checked again), and
docker compose (`config -q`). A tool that is missing is reported as SKIP, never as a pass;
with --require-tools a SKIP fails the run (CI, after infra/checks/install-*.sh).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deploy_checks as checks


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def static_checks() -> dict[str, list[str]]:
    results: dict[str, list[str]] = {}
    results["YAML files parse"] = checks.check_yaml_files(checks.yaml_files())
    if results["YAML files parse"]:
        return results
    compose = checks.load_yaml_documents(checks.COMPOSE_FILE)[0]
    results["compose.yaml"] = checks.check_compose(compose)
    results["Dockerfiles"] = checks.check_dockerfiles() + checks.check_workspace_members()
    results["k8s kustomizations"] = checks.check_kustomizations()
    base_docs = checks.k8s_base_documents()
    k8s_errors = []
    for source, doc in base_docs:
        k8s_errors += checks.check_k8s_documents([doc], source)
    k8s_errors += checks.check_k8s_services_complete(
        [doc for _, doc in base_docs], checks.k8s_config_keys(), "k8s/base"
    )
    results["k8s base manifests"] = k8s_errors
    prometheus = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "prometheus.yml")[0]
    results["prometheus.yml"] = checks.check_prometheus_config(prometheus)
    alerts = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "alerts.yml")[0]
    results["alerts.yml"] = checks.check_alert_rules(alerts)
    rule_tests = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "rules.test.yml")[0]
    results["rules.test.yml"] = checks.check_rule_tests(alerts, rule_tests)
    alertmanager = checks.load_yaml_documents(checks.ALERTMANAGER_FILE)[0]
    results["alertmanager.yml"] = checks.check_alertmanager_config(alertmanager)
    try:
        dashboards = checks.grafana_dashboards()
    except ValueError as exc:
        results["grafana"] = [f"grafana: a dashboard is not valid JSON: {exc}"]
    else:
        results["grafana"] = (
            checks.check_grafana(checks.grafana_datasources(), dashboards)
            + checks.check_generated_dashboards()
        )
    return results


def tool_checks() -> tuple[list[checks.ToolResult], dict[str, list[str]]]:
    tools = checks.promtool_checks()
    rendered_errors: dict[str, list[str]] = {}
    targets = [checks.K8S_DIR / "base"] + [
        checks.K8S_DIR / "overlays" / overlay for overlay in checks.K8S_OVERLAYS
    ]
    for target in targets:
        result, docs = checks.render_kustomization(target)
        tools.append(result)
        if docs:
            source = f"rendered {target.relative_to(checks.ROOT)}"
            config_keys = {
                key
                for doc in docs
                if doc.get("kind") == "ConfigMap"
                for key in (doc.get("data") or {})
            }
            rendered_errors[source] = checks.check_k8s_documents(
                docs, source
            ) + checks.check_k8s_services_complete(docs, config_keys, source)
    tools.append(checks.compose_cli_check())
    return tools, rendered_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require-tools", action="store_true", help="fail when promtool/kustomize are missing"
    )
    args = parser.parse_args(argv)

    failed = skipped = 0
    results = static_checks()
    tools: list[checks.ToolResult] = []
    if not any(results.values()):
        tools, rendered = tool_checks()
        results.update(rendered)
    for name, errors in results.items():
        say(f"{'FAIL' if errors else 'ok  '}  {name}")
        for error in errors:
            say(f"        {error}")
        failed += bool(errors)
    for tool in tools:
        if tool.skipped:
            say(f"SKIP  {tool.name}: {tool.output}")
            skipped += 1
        elif tool.ok:
            say(f"ok    {tool.name}")
        else:
            say(f"FAIL  {tool.name}")
            for line in tool.output.splitlines():
                say(f"        {line}")
            failed += 1
    passed = len(results) + len(tools) - failed - skipped
    say()
    say(f"deploy config: {passed} passed, {failed} failed, {skipped} skipped")
    if failed or (skipped and args.require_tools):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
