"""The one Dockerfile template: every service image (and the emulator's) is rendered from it.

Each deployable keeps its own `Dockerfile` so that `docker build -f services/<name>/Dockerfile .`
works with no arguments; `python infra/checks/dockerfiles.py` rewrites them all from this template
and `test_deploy_config.py` fails when a committed file drifts from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from deployables import DEPLOYABLES, WORKSPACE_PYPROJECTS, Deployable

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_UID = 10001

TEMPLATE = """\
# syntax=docker/dockerfile:1.7
# {name}: rendered from infra/checks/dockerfiles.py (edit the template there, then run
# `uv run python infra/checks/dockerfiles.py`); every paycore image is built the same way.
# Build from the repository root:
#   docker build -f {dockerfile} -t paycore/{name} .

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a self-contained virtualenv with {name} and its dependencies
FROM ghcr.io/astral-sh/uv:0.13 AS uv
FROM ${{PYTHON_IMAGE}} AS builder
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy \\
    UV_PYTHON_DOWNLOADS=never \\
    UV_PYTHON=/usr/local/bin/python3.11 \\
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Dependencies first, as their own layer: it changes only when uv.lock or a pyproject does.
# `--locked` checks the lock against every workspace member, so all their pyproject files come.
COPY pyproject.toml uv.lock ./
{pyproject_copies}
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --locked --no-dev --no-editable --package {name} --no-install-workspace

# Then the sources of this deployable and the shared package, installed non-editable so that
# the virtualenv alone is the application.
{source_copies}
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --locked --no-dev --no-editable --package {name}

# --- runtime: slim, no build tools, non-root
FROM ${{PYTHON_IMAGE}} AS runtime
RUN groupadd --system --gid {uid} paycore \\
    && useradd --system --uid {uid} --gid paycore --no-create-home \\
       --home-dir /nonexistent --shell /usr/sbin/nologin paycore
# Owned by root and read-only for the app user: the code cannot be changed at run time.
COPY --from=builder /app/.venv /app/.venv
WORKDIR /app
ENV PATH="/app/.venv/bin:$PATH" \\
    PYTHONUNBUFFERED=1 \\
    PYTHONDONTWRITEBYTECODE=1 \\
    SERVICE_NAME={name} \\
    HOST=0.0.0.0 \\
    PORT={port}{extra_env}
USER {uid}:{uid}
EXPOSE {port}
# slim has no curl: python's urllib raises (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \\
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '{port}'), timeout=4)"]
CMD ["python", "-m", "{import_name}"]
"""

# The emulator reads EMULATOR_* variables (its own settings), not HOST/PORT.
EXTRA_ENV = {
    "cashfree-emulator": (("EMULATOR_HOST", "0.0.0.0"), ("EMULATOR_PORT", "8090")),  # noqa: S104 - the container listens on its own network namespace
}


def source_dirs(deployable: Deployable) -> list[str]:
    """Folders whose sources the image installs: the deployable, plus paycore for services."""
    if deployable.name == "cashfree-emulator":
        return [deployable.source_dir]
    return ["libs/paycore", deployable.source_dir]


def render(deployable: Deployable) -> str:
    pyprojects = "\n".join(f"COPY {path} {path}" for path in WORKSPACE_PYPROJECTS)
    sources = "\n".join(f"COPY {folder} {folder}" for folder in source_dirs(deployable))
    extra_env = "".join(
        f" \\\n    {name}={value}" for name, value in EXTRA_ENV.get(deployable.name, ())
    )
    return TEMPLATE.format(
        name=deployable.name,
        import_name=deployable.import_name,
        port=deployable.port,
        dockerfile=deployable.dockerfile,
        uid=RUNTIME_UID,
        pyproject_copies=pyprojects,
        source_copies=sources,
        extra_env=extra_env,
    )


def main() -> int:
    for deployable in DEPLOYABLES:
        path = ROOT / deployable.dockerfile
        path.write_text(render(deployable))
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
