#!/usr/bin/env python3
"""Load generator for MLflow's model-registry REST subset (not run in CI).

It speaks only the MLflow REST API (``/api/2.0/mlflow/...``) over plain HTTP,
so the very same workload can be pointed at Modelgate or at an MLflow server:

    python bench/mlflow_load.py --url http://127.0.0.1:8000 --token mg_...      # Modelgate
    python bench/mlflow_load.py --url http://127.0.0.1:5000                      # MLflow server (no auth)

Phases (a new TCP connection per request, as the issue's baseline was measured):
  writes   create model / create version / set alias, WRITE_CLIENTS concurrent clients
  reads    mixed: get version, get version by alias, search versions (filter on name),
           search models (25-row page), at 1 and at 16 concurrent clients
Reports requests/s and p50/p95/p99 latency per phase (and per operation with -v);
``--pss PID`` adds the server's memory (PSS summed over PID and its descendants) and
the CPU its processes used per request in each phase; ``--postgres-cpu`` adds
PostgreSQL's, and the load generator's own is always shown with either.
Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import ssl
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode, urlsplit

PREFIX = "/api/2.0/mlflow/"


class Http:
    """HTTP/1.1 over a new TCP connection per request (the baseline's client did the
    same), written on a bare socket: ``http.client`` spent ~0.7 ms of CPU per request
    parsing headers with the email package, CPU taken from the 2 cores the server
    under test shares with this generator. The request is built once as bytes, sent
    with ``Connection: close`` and the answer read to EOF."""

    def __init__(self, url: str, headers: dict):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"  # never the URL's user:password@
        fields = {"Host": host, "Content-Type": "application/json", "Connection": "close", **headers}
        self.header_lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())

    def call(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if method == "GET":
            target, body = PREFIX + path + "?" + urlencode(params, doseq=True), b""
        else:
            target, body = PREFIX + path, json.dumps(params).encode()
        request = f"{method} {target} HTTP/1.1\r\n{self.header_lines}Content-Length: {len(body)}\r\n\r\n".encode() + body
        sock = socket.create_connection((self.host, self.port), timeout=60)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(request)
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        finally:
            sock.close()
        head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        for line in header_lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                payload = _dechunk(payload)
        return status, (json.loads(payload) if payload else {})


def _dechunk(data: bytes) -> bytes:
    out, position = [], 0
    while True:
        line_end = data.index(b"\r\n", position)
        size = int(data[position:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[line_end + 2:line_end + 2 + size])
        position = line_end + 2 + size + 2


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.first_errors: list[str] = []

    def timed(self, http: Http, op: str, method: str, path: str, params: dict, ok=(200,)):
        start = time.perf_counter()
        try:
            status, body = http.call(method, path, params)
        except (OSError, ValueError, IndexError) as exc:  # refused, reset, timed out, or not an HTTP/JSON answer
            status, body = 0, {"error": repr(exc)}
        elapsed = time.perf_counter() - start
        with self.lock:
            self.samples[op].append(elapsed)
            if status not in ok:
                self.errors[op] += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(f"{op}: {status} {body}")
        return status, body


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_clients(clients: int, work) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def write_phase(http: Http, prefix: str, clients: int, models_per_client: int, versions_per_model: int, team_tag: list):
    """Each client registers its models: create model, N versions, an alias on the newest."""
    recorder = Recorder()
    created: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def work(client: int):
        for i in range(models_per_client):
            name = f"{prefix}-c{client:02d}-m{i:04d}"
            status, _ = recorder.timed(http, "create_model", "POST", "registered-models/create", {"name": name, "tags": team_tag})
            if status != 200:
                continue
            number = "0"
            for v in range(versions_per_model):
                _, body = recorder.timed(http, "create_version", "POST", "model-versions/create", {
                    "name": name, "source": f"s3://bench-bucket/{name}/{v + 1}", "run_id": uuid.uuid4().hex,
                    "tags": [{"key": "bench", "value": prefix}],
                })
                number = body.get("model_version", {}).get("version", number)
            recorder.timed(http, "set_alias", "POST", "registered-models/alias", {"name": name, "alias": "candidate", "version": number})
            with lock:
                created.append((name, int(number), "candidate"))

    elapsed = run_clients(clients, work)
    return recorder, elapsed, created


def read_phase(http: Http, prefix: str, clients: int, requests_per_client: int, targets: list):
    recorder = Recorder()

    def work(client: int):
        for i in range(requests_per_client):
            name, number, alias = targets[(client * 7919 + i) % len(targets)]
            kind = i % 4
            if kind == 0:
                recorder.timed(http, "get_version", "GET", "model-versions/get", {"name": name, "version": str(number)})
            elif kind == 1:
                recorder.timed(http, "get_by_alias", "GET", "registered-models/alias", {"name": name, "alias": alias})
            elif kind == 2:
                recorder.timed(http, "search_versions", "GET", "model-versions/search", {"filter": f"name = '{name}'", "max_results": 100})
            else:
                recorder.timed(http, "search_models", "GET", "registered-models/search",
                               {"filter": f"name LIKE '{prefix}-c{client % 8:02d}%'", "max_results": 25})

    elapsed = run_clients(clients, work)
    return recorder, elapsed


def process_tree(root_pid: int) -> set[int]:
    """PID and its descendants, from /proc/*/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def pss_kib(root_pid: int) -> tuple[int, int]:
    """PSS of a process tree (KiB) and its process count, from /proc/<pid>/smaps_rollup."""
    tree = process_tree(root_pid)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total, len(tree)


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> dict[int, float]:
    """user + system CPU of each process, from /proc/<pid>/stat."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, ValueError, IndexError):
            continue
    return out


def postgres_pids() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU used during a phase by the server's process tree, by PostgreSQL (all its
    processes on this machine) and by this load generator. On a shared VM whose
    speed drifts, CPU per request compares runs better than requests per second."""

    def __init__(self, server_pid: int | None, with_postgres: bool):
        self.server_pid, self.with_postgres = server_pid, with_postgres

    def _groups(self) -> dict[str, dict[int, float]]:
        groups = {}
        if self.server_pid:
            groups["server"] = cpu_seconds(process_tree(self.server_pid))
        if self.with_postgres:
            groups["postgres"] = cpu_seconds(postgres_pids())
        return groups

    def start(self):
        self.before, self.client_before = self._groups(), time.process_time()

    def per_request_ms(self, requests: int) -> dict[str, float]:
        after = self._groups()
        out = {}
        for name, now in after.items():
            # Processes started during the phase count from zero; ones that ended are lost.
            used = sum(seconds - self.before.get(name, {}).get(pid, 0.0) for pid, seconds in now.items())
            out[name] = used / requests * 1000
        out["client"] = (time.process_time() - self.client_before) / requests * 1000
        return out


def summarise(label: str, recorder: Recorder, elapsed: float, verbose: bool, meter: CpuMeter | None = None) -> dict:
    every = [s for samples in recorder.samples.values() for s in samples]
    row = {
        "phase": label,
        "requests": len(every),
        "errors": sum(recorder.errors.values()),
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(every) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(every, 50) * 1000, 1),
        "p95_ms": round(percentile(every, 95) * 1000, 1),
        "p99_ms": round(percentile(every, 99) * 1000, 1),
        "first_errors": list(recorder.first_errors),
    }
    print(f"{label:<22} {row['requests']:>6} req  {row['req_per_s']:>8.1f} req/s  p50 {row['p50_ms']:>7.1f} ms  "
          f"p95 {row['p95_ms']:>7.1f} ms  p99 {row['p99_ms']:>7.1f} ms  errors {row['errors']}")
    if meter is not None:
        cpu = meter.per_request_ms(len(every) or 1)
        row["cpu_ms_per_request"] = {name: round(ms, 3) for name, ms in cpu.items()}
        print("    CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))
    if verbose:
        for op, samples in sorted(recorder.samples.items()):
            print(f"    {op:<18} {len(samples):>6}  p50 {statistics.median(samples) * 1000:7.1f} ms  "
                  f"p95 {percentile(samples, 95) * 1000:7.1f} ms  p99 {percentile(samples, 99) * 1000:7.1f} ms")
    for message in recorder.first_errors:
        print(f"    error: {message}", file=sys.stderr)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get("MLFLOW_TRACKING_TOKEN"), help="Bearer token (MLFLOW_TRACKING_TOKEN)")
    parser.add_argument("--username", default=os.environ.get("MLFLOW_TRACKING_USERNAME"))
    parser.add_argument("--password", default=os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    parser.add_argument("--team", help="Modelgate team slug (tag modelgate.team), for users in several teams")
    parser.add_argument("--write-clients", type=int, default=8)
    parser.add_argument("--models-per-client", type=int, default=25)
    parser.add_argument("--versions-per-model", type=int, default=2)
    parser.add_argument("--read-clients", default="1,16", help="Comma-separated client counts for the read phase")
    parser.add_argument("--reads", type=int, default=2000, help="Read requests per read phase (split over the clients)")
    parser.add_argument("--prefix", default=f"bench-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--pss", type=int, metavar="PID",
                        help="Server master PID: report PSS of it and its children, and their CPU per request per phase")
    parser.add_argument("--postgres-cpu", action="store_true",
                        help="Also report the CPU per request of every PostgreSQL process on this machine")
    parser.add_argument("--json", metavar="FILE", help="Also write the results as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="Per-operation latencies")
    args = parser.parse_args(argv)

    headers = {}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    elif args.username:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{args.username}:{args.password}".encode()).decode()
    http = Http(args.url, headers)
    team_tag = [{"key": "modelgate.team", "value": args.team}] if args.team else []

    print(f"target {args.url}  prefix {args.prefix}")
    results = []
    meter = CpuMeter(args.pss, args.postgres_cpu) if (args.pss or args.postgres_cpu) else None
    if meter:
        meter.start()
    recorder, elapsed, created = write_phase(
        http, args.prefix, args.write_clients, args.models_per_client, args.versions_per_model, team_tag
    )
    results.append(summarise(f"writes x{args.write_clients}", recorder, elapsed, args.verbose, meter))
    if not created:
        print("no models were created; check credentials", file=sys.stderr)
        _write_json(args, results)
        return 1
    for clients in [int(c) for c in args.read_clients.split(",") if c]:
        per_client = max(1, args.reads // clients)
        if meter:
            meter.start()
        recorder, elapsed = read_phase(http, args.prefix, clients, per_client, created)
        results.append(summarise(f"reads x{clients}", recorder, elapsed, args.verbose, meter))
    if args.pss:
        kib, count = pss_kib(args.pss)
        print(f"server PSS {kib / 1024:.0f} MiB across {count} processes (tree of PID {args.pss})")
        results.append({"phase": "memory", "pss_mib": round(kib / 1024), "processes": count})
    _write_json(args, results)
    return 0 if all(r.get("errors", 0) == 0 for r in results) else 2


def _write_json(args, results: list[dict]):
    if args.json:
        Path(args.json).write_text(json.dumps({"url": args.url, "prefix": args.prefix, "results": results}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
