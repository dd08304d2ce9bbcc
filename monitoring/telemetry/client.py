"""A small, dependency-free client for serving systems to post telemetry.

    from monitoring.telemetry.client import TelemetryClient

    with TelemetryClient("https://modelgate.example", token="mg_…", deployment=42) as telemetry:
        telemetry.record(event_id=request_id, latency_ms=12.5, prediction=1, score=0.91,
                         features={"income": 52000}, version=3)
    # later, when outcomes are known:
    telemetry.post_labels([{"event_id": request_id, "label": 1}])

Events are buffered and sent in batches (≤ 10,000, the server's limit). A batch
that fails on the network or with a 5xx is retried with backoff: the server
ignores event ids it already has, so a retry never double counts. A 4xx is not
retried: it raises ``TelemetryError`` with the server's message, which names
the index and field of each bad event (and nothing of that batch was stored).

The same with curl::

    curl -sS -X POST https://modelgate.example/api/v1/telemetry/events/ \\
      -H "Authorization: Bearer $MODELGATE_TOKEN" -H "Content-Type: application/json" \\
      -d '{"deployment": 42, "events": [{"event_id": "req-1", "timestamp": "2026-01-31T12:00:00Z",
           "latency_ms": 12.5, "status": "ok", "prediction": 1, "score": 0.91, "version": 3}]}'
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

MAX_BATCH = 10_000


class TelemetryError(Exception):
    def __init__(self, status: int, body: dict | str):
        self.status = status
        self.body = body
        message = body.get("error", {}).get("message", body) if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")


class TelemetryClient:
    def __init__(self, base_url: str, *, token: str, deployment: int, batch_size: int = 1000, timeout: float = 10.0,
                 retries: int = 4):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1–{MAX_BATCH}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.deployment = deployment
        self.batch_size = batch_size
        self.timeout = timeout
        self.retries = retries
        self._buffer: list[dict] = []
        self._lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()

    def record(self, *, event_id: str, latency_ms: float, prediction=None, status: str = "ok",
               timestamp: datetime | None = None, version: int | None = None, score: float | None = None,
               features: dict | None = None) -> None:
        event = {"event_id": event_id, "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
                 "latency_ms": latency_ms, "status": status, "prediction": prediction}
        if version is not None:
            event["version"] = version
        if score is not None:
            event["score"] = score
        if features is not None:
            event["features"] = features
        with self._lock:
            self._buffer.append(event)
            full = len(self._buffer) >= self.batch_size
        if full:
            self.flush()

    def flush(self) -> dict | None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return None
        return self._post("/api/v1/telemetry/events/", {"deployment": self.deployment, "events": batch})

    def post_labels(self, labels: list[dict]) -> list[dict]:
        return [
            self._post("/api/v1/telemetry/ground-truth/", {"deployment": self.deployment, "labels": labels[i : i + MAX_BATCH]})
            for i in range(0, len(labels), MAX_BATCH)
        ]

    def _post(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
                self.base_url + path, data=body, method="POST",
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                text = exc.read().decode(errors="replace")
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = text
                if exc.code < 500 or attempt == self.retries:
                    raise TelemetryError(exc.code, parsed) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                if attempt == self.retries:
                    raise
            time.sleep(min(2**attempt * 0.5, 10))  # duplicates are ignored server-side: retrying is safe
        raise AssertionError("unreachable")
