"""Validates every rendered kustomization (base and overlays) with kubeconform, strictly.

Schemas, all local (CI reaches no schema registry): the Kubernetes ones come from the
`kubernetes-validate` package (a locked dev dependency), rewritten once into var/ as files
kubeconform can load; CRDs (the ServiceMonitor) from infra/checks/crd-schemas/. A kind with no
schema fails (`-ignore-missing-schemas` is never used).

    uv run python infra/checks/kubeconform.py [rendered.yaml ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
from deploy_checks import find_tool, kustomize_command

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.33.0"  # the oldest minor the manifests must still apply to
CACHE = ROOT / "var" / "kubeconform-schemas"
CRD_SCHEMAS = ROOT / "infra" / "checks" / "crd-schemas"
KUSTOMIZATIONS = ("k8s/base", "k8s/overlays/staging", "k8s/overlays/production")


def tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        raise SystemExit(f"{name} not found: run infra/checks/install-{name}.sh")
    return found


def native_schemas() -> Path:
    """kubernetes-validate's strict schemas refer to `/api/_definitions.json`; kubeconform
    resolves references against the file, so write copies that refer to their neighbour."""
    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    target = CACHE / f"v{KUBERNETES_VERSION}-standalone-strict"
    marker = target / ".complete"
    if marker.exists():
        return CACHE
    target.mkdir(parents=True, exist_ok=True)
    for schema in source.glob("*.json"):
        text = schema.read_text().replace('"/api/_definitions.json#', '"_definitions.json#')
        document = json.loads(text)
        document.pop("$id", None)
        (target / schema.name).write_text(json.dumps(document))
    marker.touch()
    return CACHE


def render(kustomization: str) -> str:
    command = kustomize_command()
    if command is None:
        raise SystemExit("neither kustomize nor kubectl: run infra/checks/install-kustomize.sh")
    done = subprocess.run(  # noqa: S603 - our own tool and arguments
        [*command, str(ROOT / kustomization)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{kustomization}: {done.stderr.strip()}")
    return done.stdout


def kubeconform(manifests: str, name: str) -> subprocess.CompletedProcess[str]:
    native = native_schemas()
    locations = [
        f"{native}/{{{{.NormalizedKubernetesVersion}}}}-standalone{{{{.StrictSuffix}}}}/"
        + "{{.ResourceKind}}{{.KindSuffix}}.json",
        f"{CRD_SCHEMAS}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json",
    ]
    command = [
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-kubernetes-version",
        KUBERNETES_VERSION,
        *[arg for location in locations for arg in ("-schema-location", location)],
        "-",
    ]
    return subprocess.run(command, input=manifests, capture_output=True, text=True, check=False)  # noqa: S603 - our own tool and arguments


def main(argv: list[str]) -> int:
    targets = [(path, Path(path).read_text()) for path in argv] or [
        (name, render(name)) for name in KUSTOMIZATIONS
    ]
    failed = False
    for name, manifests in targets:
        done = kubeconform(manifests, name)
        status = "ok  " if done.returncode == 0 else "FAIL"
        summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
        sys.stdout.write(f"{status}  kubeconform {name}: {summary}\n")
        if done.returncode != 0:
            failed = True
            sys.stdout.write(done.stdout + done.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
