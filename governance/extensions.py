"""Governance's extension points, filled by higher apps in their ``AppConfig.ready()``.

Gate kinds are one (``governance.gates.register_gate_kind``). The other:

- ``VERSION_EVIDENCE``: evidence about a version shown on a promotion request's
  page next to the CI results (monitoring: its explainability, fairness and
  drift reports). ``evidence(user, version)`` returns rows the user may see, as
  ``Evidence``; governance never imports monitoring.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from modelgate.core.extensions import ExtensionPoint


@dataclass(frozen=True)
class Evidence:
    title: str
    url: str
    status: str
    status_label: str
    verdict: str
    created_at: datetime.datetime


VERSION_EVIDENCE: ExtensionPoint[Callable[..., list[Evidence]]] = ExtensionPoint("version evidence")


def register_version_evidence(key: str, evidence: Callable[..., list[Evidence]], *, order: int = 100) -> None:
    VERSION_EVIDENCE.register(key, evidence, order=order)


def version_evidence(user, version) -> list[Evidence]:
    return [row for evidence in VERSION_EVIDENCE for row in evidence(user, version)]
