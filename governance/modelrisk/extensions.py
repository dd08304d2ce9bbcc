"""Extension points filled by higher layers (monitoring) in their AppConfig.ready():
governance must not import monitoring, so monitoring tells model risk what it knows."""

from __future__ import annotations

from collections.abc import Callable

# name -> callable(version) -> JSON-able facts frozen into a validation's evidence and
# offered to the documentation prefill (e.g. monitoring's reports and model card).
EVIDENCE_SOURCES: dict[str, Callable] = {}
# callable(deployment ids) -> {deployment id: set of monitored metric names} (monitoring's SLA rules).
MONITORING_COVERAGE: list[Callable] = []


def register_evidence_source(name: str, source: Callable) -> None:
    EVIDENCE_SOURCES[name] = source


def register_monitoring_coverage(coverage: Callable) -> None:
    if coverage not in MONITORING_COVERAGE:
        MONITORING_COVERAGE.append(coverage)


def monitored_metrics(deployment_ids) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {pk: set() for pk in deployment_ids}
    for coverage in MONITORING_COVERAGE:
        for pk, metrics in coverage(list(deployment_ids)).items():
            out.setdefault(pk, set()).update(metrics)
    return out
