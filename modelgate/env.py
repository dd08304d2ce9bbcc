"""Strict, typed readers for configuration taken from environment variables.

Every setting comes from the environment; a bad value stops start-up with a
message that names the variable and what it accepts.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {value!r}).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer (got {value!r}).") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_map(name: str) -> list[tuple[str, str]]:
    """``key=value`` pairs separated by commas, in order (a key may repeat), e.g.
    ``OIDC_ROLE_MAP="mg-approvers=business_approver,mg-risk=risk_officer"``."""
    pairs = []
    for item in env_list(name, []):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(
                f"{name} must be comma-separated claim=value pairs, e.g. 'mg-approvers=business_approver' (got {item!r})."
            )
        pairs.append((key.strip(), value.strip()))
    return pairs
