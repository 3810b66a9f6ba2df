"""The client's IP address, the one place it is worked out (rate limits, access and login logs).

``REMOTE_ADDR`` is the direct peer. Behind a reverse proxy (nginx in front of gunicorn) that
peer is the proxy, and every citizen would share its address — one flood would lock the
whole public out of the portal. ``settings.QUNLI_TRUSTED_PROXIES`` (environment variable of
the same name: comma-separated addresses or networks, e.g. ``127.0.0.1,10.0.0.0/8``; empty
by default) names the proxies whose ``X-Forwarded-For`` header is believed.

The header is read only when the direct peer is a trusted proxy, and from the right: each
proxy appends the address it received the connection from, so the rightmost entries were
written by our own proxies and everything left of the first untrusted entry may have been
sent by the client itself. The client is therefore the rightmost entry that is not a trusted
proxy. A malformed entry stops the walk at the last trusted hop (the proxy is counted rather
than a made-up address). Without trusted proxies — or from any other peer — the header is
ignored, so a spoofed ``X-Forwarded-For`` changes nothing."""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(s, strict=False) for s in spec)
    except ValueError as e:
        raise ImproperlyConfigured(f"QUNLI_TRUSTED_PROXIES: {e}") from e


def trusted_networks() -> tuple:
    raw = getattr(settings, "QUNLI_TRUSTED_PROXIES", ()) or ()
    if isinstance(raw, str):
        raw = raw.split(",")
    return _networks(tuple(s.strip() for s in raw if s and s.strip()))


def _parse(value: str) -> Address | None:
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


def is_trusted(addr: Address | None, networks: tuple | None = None) -> bool:
    if addr is None:
        return False
    nets = trusted_networks() if networks is None else networks
    return any(addr.version == n.version and addr in n for n in nets)


def client_ip(request) -> str:
    """The address to count and log for ``request`` (see the module docstring)."""
    meta = getattr(request, "META", None) or {}
    peer_raw = meta.get("REMOTE_ADDR", "") or ""
    peer = _parse(peer_raw)
    networks = trusted_networks()
    if not networks or not is_trusted(peer, networks):
        return str(peer) if peer is not None else (peer_raw or "unknown")
    last = peer
    for entry in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        if not entry.strip():
            continue
        addr = _parse(entry)
        if addr is None:
            break
        if not is_trusted(addr, networks):
            return str(addr)
        last = addr
    return str(last)


def log_ip(request) -> str | None:
    """``client_ip`` for a log column (GenericIPAddressField): None when there is no address."""
    ip = client_ip(request)
    return ip if _parse(ip) is not None else None
