"""The egress policy: which addresses a request made for a tenant may reach.

Public addresses only by default. Loopback, private (RFC 1918, unique
local), link-local (the cloud metadata address 169.254.169.254 among them),
CGNAT, multicast, reserved and unspecified addresses are refused unless the
operator names the host in `allow` (``HOST`` or ``HOST:PORT``). With mode
``none`` only the allowed hosts can be reached.

A name is resolved once, and the caller connects to the address that was
checked (`Egress.address`), so a DNS answer that changes between check and
connect (rebinding) cannot reach a refused address. Redirects are checked
hop by hop by the caller.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MODES = ("public", "none")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
Resolver = Callable[[str, int], list[str]]


class EgressRefused(Exception):
    """The policy refuses this destination; the message says why."""


def parse_allow(spec: str) -> tuple[str, int | None]:
    """``HOST`` or ``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port)."""
    spec = spec.strip().lower()
    if not spec:
        raise ValueError("an --egress-allow entry is empty")
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    else:
        host, port = spec, None
    if not host:
        raise ValueError(f"--egress-allow {spec!r}: no host")
    if port is None:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--egress-allow {spec!r}: the port must be 1 to 65535")
    return host, int(port)


def refused_kind(address: str) -> str | None:
    """Why the policy refuses `address` by default ("loopback", "private",
    ...), or None for a public address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
              ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
              ("reserved", ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255")),
              ("shared (CGNAT)", ip in _CGNAT), ("private", ip.is_private),
              ("non-public", not ip.is_global))
    return next((kind for kind, hit in checks if hit), None)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Egress:
    """An operator's egress policy. `resolver` is for tests."""

    mode: str = "public"
    allow: tuple[tuple[str, int | None], ...] = ()
    resolver: Resolver = field(default=_system_resolver, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"egress mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    @classmethod
    def from_flags(cls, mode: str = "public", allow: Iterable[str] = ()) -> Egress:
        return cls(mode, tuple(parse_allow(a) for a in allow))

    def allowed_by_name(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return any(h == host and (p is None or p == port) for h, p in self.allow)

    def address(self, host: str, port: int) -> str:
        """The address to connect to for `host:port`; raises EgressRefused."""
        if self.allowed_by_name(host, port):
            return self._resolve(host, port)[0]
        if self.mode == "none":
            raise EgressRefused(f"{host}:{port} is not allowed by the egress policy "
                                "(egress none; the operator allows hosts with --egress-allow)")
        addresses = self._resolve(host, port)
        for address in addresses:
            if refused_kind(address) is None:
                return address
        kind = refused_kind(addresses[0])
        raise EgressRefused(f"{host}:{port} resolves to {addresses[0]}, a {kind} address, which is "
                      "not allowed by the egress policy (the operator allows hosts with "
                      "--egress-allow)")

    def _resolve(self, host: str, port: int) -> list[str]:
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        try:
            addresses = self.resolver(host, port)
        except OSError:
            addresses = []
        if not addresses:
            raise EgressRefused(f"{host} could not be resolved")
        return addresses
