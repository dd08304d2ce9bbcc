"""Model risk's extension points, filled by higher apps (monitoring) in their ``AppConfig.ready()``:
governance must not import monitoring, so monitoring tells model risk what it knows.

- ``EVIDENCE_SOURCES``: ``source(version)`` -> JSON-able facts frozen into a validation's
  evidence and offered to the documentation prefill (monitoring: its reports).
- ``MONITORING_COVERAGE``: ``coverage(deployment ids)`` -> {deployment id: monitored metric
  names} (monitoring's SLA rules; a tier's required Prod monitoring rules read it).
"""

from __future__ import annotations

from collections.abc import Callable

from modelgate.core.extensions import ExtensionPoint

EVIDENCE_SOURCES: ExtensionPoint[Callable[..., list[dict]]] = ExtensionPoint("model-risk evidence sources")
MONITORING_COVERAGE: ExtensionPoint[Callable[..., dict[int, set[str]]]] = ExtensionPoint("model-risk monitoring coverage")


def register_evidence_source(key: str, source: Callable[..., list[dict]], *, order: int = 100) -> None:
    EVIDENCE_SOURCES.register(key, source, order=order)


def register_monitoring_coverage(key: str, coverage: Callable[..., dict[int, set[str]]], *, order: int = 100) -> None:
    MONITORING_COVERAGE.register(key, coverage, order=order)


def monitored_metrics(deployment_ids) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {pk: set() for pk in deployment_ids}
    for coverage in MONITORING_COVERAGE:
        for pk, metrics in coverage(list(deployment_ids)).items():
            out.setdefault(pk, set()).update(metrics)
    return out
