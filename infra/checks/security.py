"""The security scans of `make test` beyond ruff's `S` rules (which `make lint` runs):

- secrets: detect-secrets over every tracked file against `.secrets.baseline`, whose findings
  were each read and marked as fixtures (dev.env, compose.yaml, test keys). A new finding fails;
  a real secret is removed, a new fixture is added with `detect-secrets scan --baseline
  .secrets.baseline` and audited (`detect-secrets audit .secrets.baseline`).
- dependencies: pip-audit of the locked requirements, when PyPI's vulnerability data can be
  reached; otherwise one line says it was skipped (the GitHub workflow runs it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
UV = sys.argv[1] if len(sys.argv) > 1 else "uv"
# pip-audit's default service: PyPI's JSON API, which lists each release's vulnerabilities.
VULNERABILITY_PROBE = "https://pypi.org/pypi/pip/24.0/json"


def run(command: list[str], **kwargs: object) -> int:
    return subprocess.run(command, cwd=ROOT, check=False, **kwargs).returncode  # type: ignore[call-overload]  # noqa: S603 - our own tools


def scan_secrets() -> bool:
    files = (
        subprocess.run(
            ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as everywhere
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    tracked = [
        name
        for name in files
        if name and name not in ("uv.lock", ".secrets.baseline") and (ROOT / name).is_file()
    ]
    # A copy: the hook rewrites its baseline when known findings only moved lines (exit 3).
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / "baseline.json"
        shutil.copy(ROOT / ".secrets.baseline", baseline)
        code = run(["detect-secrets-hook", "--baseline", str(baseline), *tracked])
    passed = code in (0, 3)
    sys.stdout.write(f"{'ok  ' if passed else 'FAIL'}  secrets: {len(tracked)} files\n")
    return passed


def vulnerability_data_reachable() -> bool:
    try:
        answer = httpx.get(VULNERABILITY_PROBE, timeout=5)
        return answer.status_code == 200 and "vulnerabilities" in answer.json()
    except (httpx.HTTPError, ValueError):
        return False


def audit_dependencies() -> bool:
    if not vulnerability_data_reachable():
        sys.stdout.write(
            "SKIP  dependency audit: PyPI's vulnerability data is not reachable from here"
            " (pip-audit runs in .github/workflows/ci.yml)\n"
        )
        return True
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        export = [UV, "export", "--all-packages", "--format", "requirements-txt", "--no-hashes"]
        run([*export, "--no-emit-workspace", "-q", "-o", requirements.name])
        code = run(["pip-audit", "--strict", "--disable-pip", "--no-deps", "-r", requirements.name])
    sys.stdout.write(f"{'ok  ' if code == 0 else 'FAIL'}  dependency audit\n")
    return code == 0


def main() -> int:
    results = [scan_secrets(), audit_dependencies()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
