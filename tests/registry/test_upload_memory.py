"""A large upload and download through a real HTTP server keep memory flat.

256 MiB (four times the 64 MiB budget, so any buffering of the body would show)
streams through the live server in this process while a sampler records the
process's resident memory every few milliseconds. The 1 GiB figure is measured
by bench/artifacts_bench.py against gunicorn.
"""

import hashlib
import os
import threading
import time

import psutil
import pytest
import requests

from modelgate.core.services import token_create
from registry.models import Artifact
from tests.registry.factories import make_model, make_version

SIZE = 256 * 1024 * 1024
BLOCK = os.urandom(1024 * 1024)
BUDGET = 64 * 1024 * 1024

pytestmark = pytest.mark.django_db(transaction=True)


class PeakRss:
    def __init__(self):
        self.process = psutil.Process()
        self.baseline = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self):
        return self.peak - self.baseline


def body():
    for _ in range(SIZE // len(BLOCK)):
        yield BLOCK


def test_it_streams_256_mib_up_and_down_with_flat_memory(live_server, ds_owner, team_credit):
    make_version(ds_owner, make_model(ds_owner, team_credit))
    _, raw = token_create(user=ds_owner, name="bench")
    headers = {"Authorization": f"Bearer {raw}"}
    url = f"{live_server.url}/api/v1/models/credit-scorer/versions/1/artifacts/model/big.bin"
    digest = hashlib.sha256()
    for block in body():
        digest.update(block)

    with PeakRss() as upload_memory:
        response = requests.put(
            url, data=body(), timeout=120,
            headers={**headers, "Content-Length": str(SIZE), "X-Content-SHA256": digest.hexdigest(), "Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["size"] == SIZE
    assert upload_memory.growth < BUDGET, f"upload grew RSS by {upload_memory.growth / 2**20:.1f} MiB"

    received = hashlib.sha256()
    with PeakRss() as download_memory:
        with requests.get(url, headers=headers, stream=True, timeout=120) as download:
            assert download.status_code == 200 and download.headers["Content-Length"] == str(SIZE)
            for chunk in download.iter_content(1024 * 1024):
                received.update(chunk)
    assert received.hexdigest() == digest.hexdigest() == Artifact.objects.get().blob_id
    assert download_memory.growth < BUDGET, f"download grew RSS by {download_memory.growth / 2**20:.1f} MiB"
    print(f"peak RSS growth: upload {upload_memory.growth / 2**20:.1f} MiB, download {download_memory.growth / 2**20:.1f} MiB")
