"""Brute-force protection for password logins (portal and HTTP Basic).

Failed attempts are counted per username and per client IP in the cache
(Redis when configured). Past the limit, logins are refused for the rest of
the window, even with the right password, so guessing gains nothing.
"""

import hashlib

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

WINDOW_SECONDS = getattr(settings, "LOGIN_FAILURE_WINDOW_SECONDS", 900)
MAX_FAILURES = getattr(settings, "LOGIN_MAX_FAILURES", 10)
# Per client address the limit is higher: many people may share one NAT address.
MAX_FAILURES_PER_IP = getattr(settings, "LOGIN_MAX_FAILURES_PER_IP", 50)


def _keys(username: str, ip: str | None) -> list[str]:
    keys = []
    if username:
        keys.append("login-fail:user:" + hashlib.sha256(username.lower().encode()).hexdigest())
    if ip:
        keys.append(f"login-fail:ip:{ip}")
    return keys


def is_locked(username: str, ip: str | None) -> bool:
    counts = cache.get_many(_keys(username, ip))
    return any(count >= (MAX_FAILURES_PER_IP if key.startswith("login-fail:ip:") else MAX_FAILURES) for key, count in counts.items())


def record_failure(username: str, ip: str | None) -> None:
    for key in _keys(username, ip):
        if cache.add(key, 1, WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)


def clear(username: str) -> None:
    cache.delete_many(_keys(username, None))


@receiver(user_login_failed, dispatch_uid="core.login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    record_failure(credentials.get("username", ""), ip)
