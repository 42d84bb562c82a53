"""Where the hub may send: URL rules at registration and address rules at connect.

`url_error` checks a URL when it is registered (API, admin, files);
`address_refusal` checks the address a connection actually reached, so a DNS
name that rebinds to a private address after registration is still refused.
Must never resolve a name to decide at send time: the socket's peer decides.
"""

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings


@lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def allowed_private_networks() -> tuple:
    return _networks(tuple(settings.ESS_ALLOW_PRIVATE_NETWORKS))


def address_refusal(address: str) -> str | None:
    """Why the hub must not talk to `address`, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed_private_networks()):
        return None
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or ip.is_unspecified),
    ):
        if flag:
            return f"{ip} is a {label} address; allow its network in ESS_ALLOW_PRIVATE_NETWORKS to deliver there"
    return None


def url_error(url: object, *, resolve: bool = True) -> str | None:
    """Why `url` may not be a delivery target, or None when it may.

    https only (http for hosts in ESS_ALLOW_HTTP_HOSTS), no credentials, and
    every address the host resolves to must pass `address_refusal`.
    """
    if not isinstance(url, str) or not url:
        return "url must be a non-empty string"
    if len(url) > 2000:
        return "url is longer than 2000 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"url is malformed: {exc}"
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        return "url must be an absolute https:// URL"
    if parts.scheme == "http" and host not in settings.ESS_ALLOW_HTTP_HOSTS:
        return "http:// is refused; use https:// (or list the host in ESS_ALLOW_HTTP_HOSTS)"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "credentials in URLs are refused; authenticate with the signing secret"
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"host {host!r} does not resolve: {exc}"
    for info in infos:
        if (reason := address_refusal(info[4][0])) is not None:
            return f"{host} resolves to {reason}"
    return None
