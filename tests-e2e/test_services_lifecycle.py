"""Each service starts against the real servers, answers /health and /metrics, and stops
cleanly (exit status 0) on SIGTERM."""

from pathlib import Path

import httpx
import pytest
from e2e_support import SERVICES, ServiceProcess, isolated_env, start_service


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_starts_answers_and_stops_cleanly(
    name: str, tmp_path: Path, service_runner: list[ServiceProcess]
) -> None:
    service = start_service(name, isolated_env(), tmp_path)
    service_runner.append(service)
    service.wait_healthy()

    health = httpx.get(f"{service.url}/health", timeout=5)
    assert health.json() == {"status": "ok", "service": name}
    for dependency in ("database", "queues", "redis"):
        answer = httpx.get(f"{service.url}/health/{dependency}", timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "up"
        assert answer.json()["latencyMs"] >= 0
    metrics = httpx.get(f"{service.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert "paycore_http_requests_total" in metrics.text

    assert service.stop() == 0
    log = service.log.read_text()
    assert '"message": "stopped"' in log
    assert "Traceback" not in log
