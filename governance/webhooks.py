"""Webhook sending with server-side request forgery protection.

The host is resolved once; every resolved address must be public (or named by
an admin allow-list) and the connection goes to that checked address, with
the hostname kept for the Host header and TLS (SNI and certificate check), so
a second DNS answer (rebinding) cannot redirect us. Redirects are never
followed: ``http.client`` does not follow them and a 3xx counts as a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Modelgate-Signature"
TIMESTAMP_HEADER = "X-Modelgate-Timestamp"
EVENT_HEADER = "X-Modelgate-Event"
DELIVERY_HEADER = "X-Modelgate-Delivery"
TIMEOUT_SECONDS = 10
ALLOWED_SCHEMES = ("http", "https")


class UnsafeURLError(ValueError):
    """The URL points to an address webhooks may not reach."""


@dataclass
class SendResult:
    ok: bool
    status: int | None
    error: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``; the timestamp lets receivers refuse replays."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _allowed_networks():
    from governance.models import WebhookAllowedAddress

    return [ipaddress.ip_network(n, strict=False) for n in WebhookAllowedAddress.objects.values_list("network", flat=True)]


def address_is_allowed(ip: ipaddress._BaseAddress, allowed_networks) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == net.version and ip in net for net in allowed_networks):
        return True
    # is_global is False for loopback, private, link-local (incl. 169.254.169.254
    # cloud metadata), shared (100.64/10), reserved, unspecified and documentation ranges.
    return ip.is_global and not ip.is_multicast


def resolve_checked(url: str, allowed_networks=None) -> tuple[str, str, int, str]:
    """Return (scheme, host, port, ip) for a URL whose every resolved address is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise UnsafeURLError("Webhook URLs must be http(s) URLs with a host.")
    if parts.username or parts.password:
        raise UnsafeURLError("Webhook URLs must not carry credentials.")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allowed_networks is None:
        allowed_networks = _allowed_networks()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"Cannot resolve {host}: {exc}") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address_is_allowed(ip, allowed_networks):
            raise UnsafeURLError(
                f"{host} resolves to {ip}, a loopback, private, link-local or metadata address; "
                "an admin must add it to the webhook allow-list."
            )
        addresses.append(str(ip))
    if not addresses:
        raise UnsafeURLError(f"{host} has no address.")
    return parts.scheme, host, port, addresses[0]


def _connect(ip: str, port: int, timeout: float) -> socket.socket:
    """Connect to the checked numeric address itself (``create_connection`` would resolve again)."""
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
    except OSError:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, ip, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        self.sock = _connect(self._ip, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, ip, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self):
        sock = _connect(self._ip, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def send(*, url: str, secret: str, event: str, delivery_id: int, payload: dict) -> SendResult:
    try:
        scheme, host, port, ip = resolve_checked(url)
    except UnsafeURLError as exc:
        return SendResult(False, None, str(exc))
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Modelgate-Webhook/1",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
    }
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn = connection_class(host, port, ip, TIMEOUT_SECONDS)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return SendResult(False, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
    if 200 <= status < 300:
        return SendResult(True, status)
    if 300 <= status < 400:
        return SendResult(False, status, f"HTTP {status}: redirects are not followed.")
    return SendResult(False, status, f"HTTP {status}")
