"""Artifact upload/download throughput and memory, against a raw copy on the same disk.

Runs a real gunicorn (one sync worker) on a throw-away SQLite database and
artifact store under --workdir, then in the same run and on the same disk:

1. raw copy: ``shutil.copyfile`` of the source file + fsync (the reference);
2. upload:   ``PUT /api/v1/models/bench/versions/1/artifacts/model.bin`` streamed
             from the file, with the client's SHA-256 (server hashes while streaming, fsyncs);
3. download: ``GET`` of the same artifact streamed to a file + fsync.

It prints MiB/s for each, the ratio to the raw copy (target ≥ 0.5) and the
gunicorn worker's peak RSS growth during each transfer (target < 64 MiB).

    .venv/bin/python bench/artifacts_bench.py --size-mib 1024
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class PeakRss:
    """Samples the RSS of one process every 5 ms; ``growth`` = peak − RSS at start."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / MiB


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_source(path: Path, size_mib: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for i in range(size_mib):
            # Vary each block a little so the file is not one repeated MiB.
            chunk = i.to_bytes(8, "little") + block[8:]
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def upload(client: str, base: str, url: str, source: Path, size: int, headers: dict) -> dict:
    if client == "curl":
        # "Expect:" turns off curl's 100-continue handshake (up to a 1 s wait before the body).
        args = ["curl", "-sS", "--fail-with-body", "-X", "PUT", "-T", str(source), "-H", "Content-Type: application/octet-stream",
                "-H", "Expect:"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        return json.loads(subprocess.run([*args, url], check=True, capture_output=True).stdout)
    conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=900)
    conn.putrequest("PUT", url.removeprefix(base))
    for name, value in {**headers, "Content-Type": "application/octet-stream", "Content-Length": str(size)}.items():
        conn.putheader(name, value)
    conn.endheaders()
    with open(source, "rb") as body:
        while block := body.read(MiB):
            conn.send(block)
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 201, answer
    return answer


def download(client: str, url: str, target: Path, headers: dict) -> None:
    if client == "curl":
        args = ["curl", "-sS", "--fail", "-o", str(target)]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        subprocess.run([*args, url], check=True)
        fsync_path(target)
        return
    with requests.get(url, headers=headers, stream=True, timeout=900) as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_content(MiB):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def setup_django(env: dict) -> str:
    """Migrate the throw-away database and return a bearer token for a data scientist."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from modelgate.core import roles
    from modelgate.core.services import team_create, token_create

    call_command("migrate", verbosity=0)
    team = team_create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user(username="bench")
    user.groups.add(Group.objects.get(name=roles.DATA_SCIENTIST), team.group)
    _, raw = token_create(user=user, name="bench")
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workdir", default="/tmp/modelgate-artifacts-bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=["curl", "python"], default="curl" if shutil.which("curl") else "python")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "modelgate.settings",
        "SECRET_KEY": "bench-only",
        "MODELGATE_VAR_DIR": str(work / "var"),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "ARTIFACT_STORE": str(work / "artifacts"),
        "ARTIFACT_MAX_BYTES": str(64 * 1024 * MiB),
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    token = setup_django(env)

    source = work / "source.bin"
    print(f"writing a {args.size_mib} MiB source file…", flush=True)
    expected = make_source(source, args.size_mib)
    size = source.stat().st_size

    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "modelgate.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "900",
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    rounds = []
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        worker_pid = psutil.Process(server.pid).children()[0].pid
        requests.post(f"{base}/api/v1/models/", json={"name": "bench", "team": "bench"}, headers=headers, timeout=30).raise_for_status()
        # Rounds interleave the three transfers so a noisy neighbour on a shared
        # machine hits all of them alike; the report takes each one's best round.
        for number in range(1, args.rounds + 1):
            # 1. the reference: a raw copy on the same disk, fsynced like the store does
            start = time.perf_counter()
            shutil.copyfile(source, work / "raw-copy.bin")
            fsync_path(work / "raw-copy.bin")
            raw_seconds = time.perf_counter() - start
            (work / "raw-copy.bin").unlink()

            requests.post(f"{base}/api/v1/models/bench/versions/", json={}, headers=headers, timeout=30).raise_for_status()
            url = f"{base}/api/v1/models/bench/versions/{number}/artifacts/model.bin"

            # 2. upload, streamed from the file. curl (C) keeps the client's CPU out of the
            #    way on a small machine; the Python client streams 1 MiB blocks over http.client.
            with PeakRss(worker_pid) as upload_rss:
                start = time.perf_counter()
                answer = upload(args.client, base, url, source, size, {**headers, "X-Content-SHA256": expected})
                upload_seconds = time.perf_counter() - start
            assert answer["sha256"] == expected, answer

            # 3. download, streamed to a file (fsynced like the raw copy)
            target = work / "downloaded.bin"
            with PeakRss(worker_pid) as download_rss:
                start = time.perf_counter()
                download(args.client, url, target, headers)
                download_seconds = time.perf_counter() - start
            assert target.stat().st_size == size
            target.unlink()
            rounds.append((raw_seconds, upload_seconds, download_seconds, upload_rss.growth_mib, download_rss.growth_mib))
            print(f"round {number}: raw {size / MiB / raw_seconds:.0f} MiB/s, upload {size / MiB / upload_seconds:.0f} MiB/s, "
                  f"download {size / MiB / download_seconds:.0f} MiB/s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Each round's ratio compares transfers made seconds apart; the median round is the figure.
    upload_ratios = sorted(r[0] / r[1] for r in rounds)
    download_ratios = sorted(r[0] / r[2] for r in rounds)
    mib = size / MiB
    result = {
        "size_mib": round(mib),
        "rounds": len(rounds),
        "raw_copy_mib_s": [round(mib / r[0], 1) for r in rounds],
        "upload_mib_s": [round(mib / r[1], 1) for r in rounds],
        "download_mib_s": [round(mib / r[2], 1) for r in rounds],
        "upload_vs_raw_median": round(statistics.median(upload_ratios), 2),
        "download_vs_raw_median": round(statistics.median(download_ratios), 2),
        "upload_peak_rss_growth_mib": round(max(r[3] for r in rounds), 1),
        "download_peak_rss_growth_mib": round(max(r[4] for r in rounds), 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "client": args.client,
    }
    print(json.dumps(result, indent=2))
    ok = result["upload_vs_raw_median"] >= 0.5 and result["download_vs_raw_median"] >= 0.5 and max(
        result["upload_peak_rss_growth_mib"], result["download_peak_rss_growth_mib"]
    ) < 64
    print("targets met" if ok else "TARGETS MISSED")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
