import httpx
import pytest
from paycore.kit.errors import NotFound
from paycore.kit.http import create_app
from paycore.kit.settings import BaseServiceSettings
from prometheus_client import REGISTRY
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def missing(request: Request) -> JSONResponse:
    raise NotFound("no such thing")


def client(**settings: object) -> httpx.AsyncClient:
    app = create_app(
        BaseServiceSettings(service_name="test", **settings),  # type: ignore[arg-type]
        [Route("/things/{thing_id}", missing)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_app_error_is_rendered_with_its_code_and_the_request_id() -> None:
    async with client() as http:
        response = await http.get("/things/1", headers={"x-request-id": "req_abc"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no such thing", "requestId": "req_abc"}
    }
    assert response.headers["x-request-id"] == "req_abc"


async def test_metrics_count_requests_by_route_template() -> None:
    async with client() as http:
        await http.get("/things/42")
        metrics = (await http.get("/metrics")).text
    assert 'route="/things/{thing_id}"' in metrics
    assert "/things/42" not in metrics


async def test_metrics_count_every_request_of_a_series() -> None:
    labels = {"service": "test", "method": "GET", "route": "/things/{thing_id}", "status": "404"}

    def answered() -> float:
        return REGISTRY.get_sample_value("paycore_http_requests_total", labels) or 0.0

    def timed() -> float:
        duration = {k: v for k, v in labels.items() if k != "status"}
        return (
            REGISTRY.get_sample_value("paycore_http_request_duration_seconds_count", duration)
            or 0.0
        )

    before = answered(), timed()
    async with client() as http:
        for thing in ("1", "2", "3"):
            await http.get(f"/things/{thing}")
    assert (answered(), timed()) == (before[0] + 3, before[1] + 3)


async def test_a_scrape_has_no_created_series() -> None:
    async with client() as http:
        await http.get("/things/42")  # a counter and a histogram child exist
        metrics = (await http.get("/metrics")).text
    assert "paycore_http_request_duration_seconds_count{" in metrics
    assert [line for line in metrics.splitlines() if "_created" in line] == []


async def test_metrics_can_be_switched_off() -> None:
    async with client(prometheus_enabled=False) as http:
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/health")).json() == {"status": "ok", "service": "test"}


async def broker_down() -> None:
    raise ConnectionError("broker not reachable")


async def database_up() -> None:
    return None


def app_with_checks(**settings: object) -> Starlette:
    return create_app(
        BaseServiceSettings(service_name="test", **settings),  # type: ignore[arg-type]
        [],
        checks={"database": database_up, "queues": broker_down},
        ready=["database"],
    )


async def test_readiness_requires_only_the_named_dependencies() -> None:
    transport = httpx.ASGITransport(app_with_checks())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ready = await http.get("/health/ready")
        queues = await http.get("/health/queues")
    assert ready.status_code == 200
    assert ready.json()["dependencies"] == {"database": "up", "queues": "down"}
    assert ready.json()["requires"] == ["database"]
    assert queues.status_code == 503


async def test_a_metrics_port_moves_metrics_and_detailed_health_off_the_public_app() -> None:
    app = app_with_checks(metrics_port=9999)
    public = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")
    ops = httpx.AsyncClient(transport=httpx.ASGITransport(app.state.ops_app), base_url="http://o")
    async with public, ops:
        assert (await public.get("/health")).status_code == 200
        for path in ("/metrics", "/health/ready", "/health/database"):
            assert (await public.get(path)).status_code == 404, path
        assert (await ops.get("/health")).status_code == 200
        assert (await ops.get("/health/ready")).status_code == 200
        assert (await ops.get("/health/database")).status_code == 200
        assert "paycore_http_requests_total" in (await ops.get("/metrics")).text


def test_the_metrics_port_must_differ_from_the_port() -> None:
    with pytest.raises(ValidationError, match="METRICS_PORT"):
        BaseServiceSettings(port=8000, metrics_port=8000)
