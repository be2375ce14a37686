import httpx
from paycore.kit.errors import NotFound
from paycore.kit.http import create_app
from paycore.kit.settings import BaseServiceSettings
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


async def test_metrics_can_be_switched_off() -> None:
    async with client(prometheus_enabled=False) as http:
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/health")).json() == {"status": "ok", "service": "test"}
