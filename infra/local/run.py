"""`make run`: the Cashfree emulator, the SMTP sink, the six services and the web pages on this
machine, a scripted walk of one invoice through payment and refunds, the console's sign-in link
and a sample invoice's pay link, then up until Ctrl-C.

It starts the servers (MongoDB front, RabbitMQ, Redis) with infra/local/up.sh and, on Ctrl-C,
stops what it started: the processes, and the servers too unless they were already running.
Set `SKIP_DEMO=1` (or pass `--no-demo`) to start the services without the walk.
Each process logs to var/log/<name>.log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "log"


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    port: int
    args: tuple[str, ...] = ()
    health: str = "/health"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


PROCESSES = (
    Process(
        "cashfree-emulator",
        "cashfree_emulator",
        8090,
        (
            "--port",
            "8090",
            "--refund-delay-seconds",
            "2",
            "--webhook-urls",
            "http://127.0.0.1:8001/api/v1/webhooks/cashfree",
        ),
        health="/_emulator/health",
    ),
    Process("smtp-sink", "smtp_sink", 8025, ("--port", "1025", "--http-port", "8025")),
    Process("payments-api", "payments_api", 8000),
    Process("webhook-ingress", "webhook_ingress", 8001),
    Process("webhook-processor", "webhook_processor", 9101),
    Process("refund-worker", "refund_worker", 9102),
    Process("email-worker", "email_worker", 9103),
    Process("reconciler", "reconciler", 9104),
    Process("web", "paycore_web", 8080),
)


def dev_settings() -> dict[str, str]:
    """The development settings of infra/local/dev.env (the end-to-end tests read them too)."""
    values: dict[str, str] = {}
    for line in (ROOT / "infra/local/dev.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def start(process: Process, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (LOGS / f"{process.name}.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - our own services, our arguments
        [sys.executable, "-m", process.module, *process.args],
        env={**env, "PORT": str(process.port), "SERVICE_NAME": process.name},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
    )


def wait_healthy(process: Process, child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = (LOGS / f"{process.name}.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{process.name} exited with {child.returncode}:\n{tail}")
        try:
            if httpx.get(process.url + process.health, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{process.name} did not become healthy in {timeout:.0f}s")


def stop_all(children: list[tuple[Process, subprocess.Popen[bytes]]]) -> None:
    for _, child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for process, child in reversed(children):
        try:
            child.wait(timeout=25)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        print(f"  stopped {process.name} (exit {child.returncode})")


def print_endpoints() -> None:
    print(
        "\npaycore is up (logs in var/log/):\n"
        "  payments API        http://127.0.0.1:8000/api/v1   (OpenAPI: /openapi.json)\n"
        "  webhook ingress     http://127.0.0.1:8001/api/v1/webhooks/cashfree\n"
        "  Cashfree emulator   http://127.0.0.1:8090/pg       checkout: /checkout/<session id>\n"
        "  web pages           http://127.0.0.1:8080/console/  (customers: /pay/<token>)\n"
        "  SMTP inbox          http://127.0.0.1:8025/messages (SMTP on 127.0.0.1:1025)\n"
        "  RabbitMQ            http://127.0.0.1:15672 (guest/guest)\n"
        "  metrics             "
        + "  ".join(f"{p.name} {p.url}/metrics" for p in PROCESSES[2:])
        + "\n  mint a token        uv run python -m payments_api.mint_token --user usr_demo"
        " --scopes read,write,refund",
        flush=True,
    )


def main() -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    env = {**dev_settings(), **os.environ}  # the caller's environment wins
    children: list[tuple[Process, subprocess.Popen[bytes]]] = []
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    servers_were_up = (
        subprocess.run(  # noqa: S603 - our own command
            [ROOT / "infra/local/status.sh"], capture_output=True, check=False
        ).returncode
        == 0
    )
    subprocess.run([ROOT / "infra/local/up.sh"], check=True)  # noqa: S603 - our own script
    try:
        for process in PROCESSES:
            children.append((process, start(process, env)))
        for process, child in children:
            wait_healthy(process, child)
            print(f"  {process.name:<18} healthy  {process.url}", flush=True)
        from demo import sample_links, walk  # infra/local/demo.py, beside this file

        if env.get("SKIP_DEMO") != "1" and "--no-demo" not in sys.argv:
            walk(env)
        print_endpoints()
        sample_links(env)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for process, child in children:
                if child.poll() is not None:
                    print(f"{process.name} exited ({child.returncode}); see var/log/", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("\nstopping...", flush=True)
        stop_all(children)
        if not servers_were_up:
            subprocess.run([ROOT / "infra/local/down.sh"], check=False)  # noqa: S603 - our own script


if __name__ == "__main__":
    main()
