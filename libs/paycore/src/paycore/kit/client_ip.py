"""Who the caller is behind proxies: the rightmost address no trusted proxy vouches for.

Each proxy appends the address it received the connection from to `X-Forwarded-For`, so only
the right end of the header was written by our own proxies; everything left of the first
untrusted address is whatever the client sent and is never believed. A proxy is trusted when
its address is in `TRUSTED_PROXIES` (CIDRs) or when it is one of the `TRUSTED_PROXY_HOPS`
rightmost hops (the peer counts as the first). With neither set, the TCP peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR: Final = "x-forwarded-for"
MAX_HOPS: Final = 20  # a longer chain is not ours to walk


def parse_networks(value: str) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 192.168.1.7"` → networks; raises ValueError naming a bad entry."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR") from None
    return tuple(networks)


def _address(value: str) -> str | None:
    """A normalised IP address, or None for anything else (ports, names, junk)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class ClientAddressResolver:
    def __init__(self, trusted: Sequence[Network] = (), hops: int = 0) -> None:
        self.trusted = tuple(trusted)
        self.hops = hops

    def _is_proxy(self, address: str, position: int) -> bool:
        if position < self.hops:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self.trusted)

    def resolve(self, peer: str | None, forwarded_for: Iterable[str] = ()) -> str | None:
        """The client's address from the TCP `peer` and every `X-Forwarded-For` header value
        (in order); None when the peer is unknown."""
        if peer is None:
            return None
        if not self.trusted and self.hops == 0:
            return peer
        entries = [entry for value in forwarded_for for entry in value.split(",")]
        chain = [*entries[-MAX_HOPS:], peer]
        client = _address(peer) or peer
        for position, raw in enumerate(reversed(chain)):
            address = _address(raw)
            if address is None:
                # Our proxy forwarded something that is no address: stop at the last one we know.
                return client
            client = address
            if not self._is_proxy(address, position):
                return client
        return client  # every hop is a proxy: the leftmost is the best we know
