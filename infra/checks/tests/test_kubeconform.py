"""kubeconform is strict and knows every kind we ship (Ingress, ServiceMonitor included); the
repository's manifests themselves are checked by `make validate-deploy`."""

import kubeconform

GOOD_MONITOR = """
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: paycore}
spec:
  selector: {matchLabels: {app.kubernetes.io/part-of: paycore}}
  endpoints: [{port: metrics, interval: 30s}]
"""


def test_an_unknown_field_fails_in_a_native_kind_and_in_a_crd() -> None:
    deployment = kubeconform.render("k8s/base").replace(
        "automountServiceAccountToken:", "automountServiceAcountToken:", 1
    )
    assert kubeconform.kubeconform(deployment, "typo").returncode != 0
    assert kubeconform.kubeconform(GOOD_MONITOR, "monitor").returncode == 0
    typo = GOOD_MONITOR.replace("interval: 30s", "intervall: 30s")
    assert kubeconform.kubeconform(typo, "monitor").returncode != 0


def test_a_kind_without_a_schema_fails() -> None:
    unknown = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    assert kubeconform.kubeconform(unknown, "widget").returncode != 0
