"""The deployment configuration is complete and consistent; the checkers catch breakage."""

from __future__ import annotations

import copy
from typing import Any

import deploy_checks as checks
import pytest
import validate
import yaml
from deployables import EMULATOR, SERVICES
from dockerfiles import render

SERVICE_NAMES = [service.name for service in SERVICES]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return checks.load_yaml_documents(checks.COMPOSE_FILE)[0]


@pytest.fixture(scope="module")
def base_docs() -> list[tuple[str, dict[str, Any]]]:
    return checks.k8s_base_documents()


def deployment(base_docs: list[tuple[str, dict[str, Any]]], name: str) -> dict[str, Any]:
    return copy.deepcopy(
        next(d for _, d in base_docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
    )


class TestYaml:
    def test_every_yaml_file_parses(self) -> None:
        files = checks.yaml_files()
        assert len(files) > 20
        assert checks.check_yaml_files(files) == []

    def test_multi_document_files_yield_every_document(self) -> None:
        docs = checks.load_yaml_documents(
            checks.K8S_DIR / "base" / "common" / "networkpolicies.yaml"
        )
        assert len(docs) >= 4

    def test_broken_yaml_is_reported(self, tmp_path) -> None:
        broken = tmp_path / "broken.yaml"
        broken.write_text("a: [1, 2\nb: c\n")
        assert checks.check_yaml_files([broken])


class TestCompose:
    def test_compose_is_complete(self, compose: dict[str, Any]) -> None:
        assert checks.check_compose(compose) == []

    @pytest.mark.parametrize("service", SERVICE_NAMES)
    def test_missing_variable_is_reported(self, compose: dict[str, Any], service: str) -> None:
        broken = copy.deepcopy(compose)
        # The web pages hold no data store URL: their API's address is what they need.
        variable = "PAYMENTS_API_URL" if service == "web" else "MONGO_URI"
        broken["services"][service]["environment"].pop(variable)
        assert f"compose: {service}: environment lacks {variable}" in checks.check_compose(broken)

    def test_missing_healthcheck_is_reported(self, compose: dict[str, Any]) -> None:
        broken = copy.deepcopy(compose)
        del broken["services"]["refund-worker"]["healthcheck"]
        assert "compose: refund-worker: no healthcheck" in checks.check_compose(broken)

    def test_api_credentials_on_the_ingress_are_reported(self, compose: dict[str, Any]) -> None:
        broken = copy.deepcopy(compose)
        broken["services"]["webhook-ingress"]["environment"]["CASHFREE_SECRET_KEY"] = "x"
        errors = checks.check_compose(broken)
        assert "compose: webhook-ingress must not get CASHFREE_SECRET_KEY" in errors

    def test_unhealthy_dependency_condition_is_reported(self, compose: dict[str, Any]) -> None:
        broken = copy.deepcopy(compose)
        broken["services"]["email-worker"]["depends_on"]["mongo"] = {"condition": "service_started"}
        errors = checks.check_compose(broken)
        assert "compose: email-worker: mongo must be condition: service_healthy" in errors

    def test_list_form_environment_is_understood(self) -> None:
        service = {"environment": ["A=1", "B=x=y", "C"]}
        assert checks.compose_environment(service) == {"A": "1", "B": "x=y", "C": ""}

    def test_unpublished_port_is_reported(self, compose: dict[str, Any]) -> None:
        broken = copy.deepcopy(compose)
        broken["services"]["grafana"]["ports"] = []
        assert "compose: grafana: port 3000 is not published" in checks.check_compose(broken)

    def test_compose_cli_accepts_the_file(self) -> None:
        result = checks.compose_cli_check()
        assert not result.skipped, result.output
        assert result.ok, result.output


class TestKubernetes:
    def test_kustomizations_reference_existing_files(self) -> None:
        assert checks.check_kustomizations() == []

    def test_base_manifests_pass(self, base_docs: list[tuple[str, dict[str, Any]]]) -> None:
        errors = []
        for source, doc in base_docs:
            errors += checks.check_k8s_documents([doc], source)
        docs = [doc for _, doc in base_docs]
        errors += checks.check_k8s_services_complete(docs, checks.k8s_config_keys(), "base")
        assert errors == []

    def test_literal_secret_value_is_reported(self, base_docs) -> None:
        broken = deployment(base_docs, "payments-api")
        env = broken["spec"]["template"]["spec"]["containers"][0]["env"]
        jwt = next(entry for entry in env if entry["name"] == "JWT_SECRET")
        jwt.pop("valueFrom")
        jwt["value"] = "hunter2-hunter2-hunter2-hunter2-hunter2"
        errors = checks.check_k8s_deployment(broken, "test")
        assert any("JWT_SECRET has a literal value" in error for error in errors)
        assert any("JWT_SECRET must come from a Secret" in error for error in errors)

    def test_credentials_in_a_url_are_reported(self, base_docs) -> None:
        broken = deployment(base_docs, "email-worker")
        env = broken["spec"]["template"]["spec"]["containers"][0]["env"]
        env.append({"name": "BROKER", "value": "amqp://user:pass@rabbitmq:5672/"})
        assert any(
            "BROKER has a literal value" in e for e in checks.check_k8s_deployment(broken, "t")
        )

    def test_missing_probe_and_resources_are_reported(self, base_docs) -> None:
        broken = deployment(base_docs, "refund-worker")
        container = broken["spec"]["template"]["spec"]["containers"][0]
        del container["livenessProbe"]
        del container["resources"]["limits"]
        errors = checks.check_k8s_deployment(broken, "test")
        assert any("no livenessProbe" in error for error in errors)
        assert any("no limits.memory" in error for error in errors)

    def test_root_pod_is_reported(self, base_docs) -> None:
        broken = deployment(base_docs, "reconciler")
        broken["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
        errors = checks.check_k8s_deployment(broken, "test")
        assert any("runAsNonRoot is not true" in error for error in errors)

    def test_committed_secret_is_reported(self) -> None:
        secret = {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
        assert checks.check_k8s_documents([secret], "test")

    def test_ingress_egress_to_the_internet_is_reported(self, base_docs) -> None:
        policies = [copy.deepcopy(d) for _, d in base_docs if d["kind"] == "NetworkPolicy"]
        own = next(p for p in policies if p["metadata"]["name"] == "webhook-ingress-isolation")
        own["spec"]["egress"].append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        )
        errors = checks.check_ingress_isolation(policies, "test")
        assert any("egress beyond DNS and data stores" in error for error in errors)

    def test_shared_allowance_that_includes_the_ingress_is_reported(self, base_docs) -> None:
        policies = [copy.deepcopy(d) for _, d in base_docs if d["kind"] == "NetworkPolicy"]
        shared = next(p for p in policies if p["metadata"]["name"] == "paycore-cashfree-egress")
        shared["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/part-of": "paycore"}}
        assert checks.check_ingress_isolation(policies, "test")

    def test_missing_service_object_is_reported(self, base_docs) -> None:
        docs = [
            d
            for _, d in base_docs
            if not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "email-worker")
        ]
        errors = checks.check_k8s_services_complete(docs, checks.k8s_config_keys(), "test")
        assert "test: PodDisruptionBudget email-worker is missing" in errors

    @pytest.mark.parametrize("target", ["base", "overlays/staging", "overlays/production"])
    def test_rendered_kustomization_passes(self, target: str) -> None:
        result, docs = checks.render_kustomization(checks.K8S_DIR / target)
        assert not result.skipped, result.output
        assert result.ok, result.output
        keys = {k for d in docs if d["kind"] == "ConfigMap" for k in d.get("data") or {}}
        assert checks.check_k8s_documents(docs, target) == []
        assert checks.check_k8s_services_complete(docs, keys, target) == []

    def test_overlays_pin_images_and_environment(self) -> None:
        result, docs = checks.render_kustomization(checks.K8S_DIR / "overlays" / "production")
        assert not result.skipped, result.output
        images = {
            c["image"]
            for d in docs
            if d["kind"] == "Deployment"
            for c in d["spec"]["template"]["spec"]["containers"]
        }
        assert all(not image.endswith(":latest") for image in images)
        config = next(d for d in docs if d["kind"] == "ConfigMap")
        assert config["data"]["APP_ENV"] == "production"
        assert config["data"]["CASHFREE_ENV"] == "production"


class TestDockerfiles:
    def test_dockerfiles_pass_and_match_the_template(self) -> None:
        assert checks.check_dockerfiles() == []

    def test_every_workspace_member_is_copied(self) -> None:
        assert checks.check_workspace_members() == []

    def test_root_runtime_is_reported(self) -> None:
        text = render(SERVICES[0]).replace("USER 10001:10001", "USER root")
        assert any("runs as root" in error for error in checks.check_dockerfile(text, SERVICES[0]))

    def test_single_stage_without_healthcheck_is_reported(self) -> None:
        text = 'FROM python:3.11-slim\nUSER 10001\nEXPOSE 8090\nCMD ["python", "-m", "x"]\n'
        errors = checks.check_dockerfile(text, EMULATOR)
        assert any("not multi-stage" in error for error in errors)
        assert any("no HEALTHCHECK" in error for error in errors)
        assert any("CMD must be" in error for error in errors)

    def test_continuation_lines_are_joined(self) -> None:
        instructions = checks.parse_dockerfile("FROM a AS b\nRUN one \\\n    two\n# c\nUSER x\n")
        assert [(i.keyword, i.args) for i in instructions] == [
            ("FROM", "a AS b"),
            ("RUN", "one  two"),
            ("USER", "x"),
        ]


class TestObservability:
    def test_prometheus_config_scrapes_every_service(self) -> None:
        config = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "prometheus.yml")[0]
        assert checks.check_prometheus_config(config) == []

    def test_missing_scrape_target_is_reported(self) -> None:
        config = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "prometheus.yml")[0]
        config["scrape_configs"] = [
            job for job in config["scrape_configs"] if job["job_name"] != "email-worker"
        ]
        errors = checks.check_prometheus_config(config)
        assert "prometheus.yml: does not scrape email-worker:9103" in errors

    def test_alert_rules_cover_every_metric(self) -> None:
        rules = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "alerts.yml")[0]
        assert checks.check_alert_rules(rules) == []

    def test_alert_without_severity_is_reported(self) -> None:
        rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]}
        errors = checks.check_alert_rules(rules)
        assert "alerts.yml: A: severity must be critical, warning or info" in errors
        assert "alerts.yml: no alert uses paycore_payments_total" in errors

    def test_every_alert_has_a_firing_and_a_quiet_promtool_case(self) -> None:
        rules = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "alerts.yml")[0]
        tests = checks.load_yaml_documents(checks.PROMETHEUS_DIR / "rules.test.yml")[0]
        assert checks.check_rule_tests(rules, tests) == []
        # Without its quiet cases, and then without any case, an alert is reported.
        for test in tests["tests"]:
            test["alert_rule_test"] = [
                case
                for case in test.get("alert_rule_test") or []
                if case["alertname"] != "PaycoreQueueBacklog" or case.get("exp_alerts")
            ]
        assert checks.check_rule_tests(rules, tests) == [
            "rules.test.yml: no case where PaycoreQueueBacklog stays quiet"
        ]
        for test in tests["tests"]:
            test["alert_rule_test"] = [
                case
                for case in test["alert_rule_test"]
                if case["alertname"] != "PaycoreQueueBacklog"
            ]
        assert checks.check_rule_tests(rules, tests) == [
            "rules.test.yml: no case where PaycoreQueueBacklog fires",
            "rules.test.yml: no case where PaycoreQueueBacklog stays quiet",
        ]

    def test_grafana_dashboards_are_consistent(self) -> None:
        errors = checks.check_grafana(checks.grafana_datasources(), checks.grafana_dashboards())
        assert errors == []

    def test_dashboard_with_unknown_datasource_is_reported(self) -> None:
        dashboards = copy.deepcopy(checks.grafana_dashboards())
        panel = next(p for d in dashboards.values() for p in d["panels"] if p["type"] != "row")
        panel["datasource"] = {"type": "prometheus", "uid": "nope"}
        errors = checks.check_grafana(checks.grafana_datasources(), dashboards)
        assert any("unknown datasource" in error for error in errors)

    def test_promtool_accepts_config_rules_tests_and_dashboard_queries(self) -> None:
        results = checks.promtool_checks()
        assert [r.name for r in results if r.skipped or not r.ok] == [], [r.output for r in results]

    def test_promtool_rejects_a_bad_rule(self, tmp_path) -> None:
        bad = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum(rate(x[5m])"}]}]}
        path = tmp_path / "bad.yml"
        path.write_text(yaml.safe_dump(bad))
        promtool = checks.find_tool("promtool")
        assert promtool, "promtool missing: run infra/checks/install-promtool.sh"
        result = checks._run("bad", [promtool, "check", "rules", str(path)])
        assert not result.ok


def test_validate_script_passes_on_the_repository(capsys) -> None:
    assert validate.main(["--require-tools"]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out
