"""The client address behind proxies: only what our own proxies appended is believed."""

import httpx
import pytest
from paycore.kit.client_ip import ClientAddressResolver, parse_networks
from paycore.kit.http import client_ip, create_app
from paycore.kit.settings import BaseServiceSettings
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

INGRESS = parse_networks("10.0.0.0/8")


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    resolver = ClientAddressResolver()
    assert resolver.resolve("203.0.113.9", ["1.2.3.4"]) == "203.0.113.9"


def test_an_untrusted_peer_cannot_pick_its_address() -> None:
    resolver = ClientAddressResolver(INGRESS)
    assert resolver.resolve("203.0.113.9", ["10.0.0.1, 1.2.3.4"]) == "203.0.113.9"


def test_the_rightmost_untrusted_address_wins_over_what_the_client_prepended() -> None:
    resolver = ClientAddressResolver(INGRESS)
    # The client sent "X-Forwarded-For: 1.2.3.4"; the ingress (10.1.2.3) appended its peer.
    assert resolver.resolve("10.1.2.3", ["1.2.3.4, 198.51.100.7"]) == "198.51.100.7"
    # Several header lines are one list; chained trusted proxies are skipped.
    assert resolver.resolve("10.1.2.3", ["1.2.3.4", "198.51.100.7, 10.9.9.9"]) == "198.51.100.7"


def test_hop_count_trusts_that_many_proxies_from_the_right() -> None:
    resolver = ClientAddressResolver(hops=2)
    assert resolver.resolve("172.16.0.1", ["6.6.6.6, 198.51.100.7, 172.16.0.2"]) == "198.51.100.7"
    # A shorter chain than promised: the leftmost address is the best we know.
    assert resolver.resolve("172.16.0.1", []) == "172.16.0.1"


def test_junk_in_the_chain_stops_the_walk_at_the_last_real_address() -> None:
    resolver = ClientAddressResolver(INGRESS)
    assert resolver.resolve("10.1.2.3", ["1.2.3.4, not-an-ip"]) == "10.1.2.3"
    assert resolver.resolve("10.1.2.3", ["2001:DB8::1"]) == "2001:db8::1"


def test_a_malformed_trusted_proxies_setting_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        BaseServiceSettings(trusted_proxies="10.0.0.0/8, ingress")


async def test_every_http_service_resolves_the_same_way() -> None:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"ip": client_ip(request)})

    settings = BaseServiceSettings(service_name="test", trusted_proxies="127.0.0.1")
    app = create_app(settings, [Route("/whoami", whoami)])
    transport = httpx.ASGITransport(app, client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        spoofed = await http.get("/whoami", headers={"x-forwarded-for": "1.1.1.1, 198.51.100.7"})
    assert spoofed.json() == {"ip": "198.51.100.7"}
