"""Simulated traffic: one batch per minute, as a serving system would post it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitoring.telemetry import services


def base_minute(minutes_ago: int = 90) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)


def post_minute(user, deployment, minute: datetime, *, n: int = 40, latency_ms: float = 30.0, errors: int = 0,
                version: int | None = None, prefix: str = "", **extra) -> dict:
    batch = []
    for i in range(n):
        ev = {
            "event_id": f"{prefix}{minute:%H%M}-{i}",
            "timestamp": (minute + timedelta(seconds=i * 59 / n)).isoformat(),
            "latency_ms": latency_ms,
            "status": "error" if i < errors else "ok",
            **extra,
        }
        if version is not None:
            ev["version"] = version
        batch.append(ev)
    return services.events_ingest(user=user, events=batch, deployment=deployment.pk)
