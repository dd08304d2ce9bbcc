"""Backup and restore (docs/operations.md, Disaster recovery): one flow, schema and data into an
empty database. Each test loses the database the way a machine is lost (every table dropped) and
restores into it, on whichever database the suite runs against (PostgreSQL with pg_dump/pg_restore,
or SQLite's backup API)."""

import io
import json
import shutil
import tarfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from modelgate.core.audit import GENESIS_HASH, verify_chain
from modelgate.core.models import AuditEvent, Team
from monitoring.telemetry.models import PredictionEvent
from registry.models import ArtifactBlob
from registry.storage import open_blob, store_stream
from tests.telemetry.fixtures import make_deployment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def artifact_dir(settings, tmp_path):
    def use(folder):
        settings.STORAGES = settings.STORAGES | {
            "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}
        }
        storages._storages.pop("artifacts", None)
        return Path(folder)

    use(tmp_path / "store-a")
    yield use
    storages._storages.pop("artifacts", None)


def _stored_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the catalogue
            counts[table] = cursor.fetchone()[0]
    return counts


def _world():
    call_command("seed_demo", parts="")  # teams and users; tests/demo/ runs the whole story
    blob = store_stream([b"model-bytes-" * 1000])
    deployment = make_deployment(Team.objects.get(slug="credit"), "scorecard")
    start = datetime.now(UTC) - timedelta(hours=1)
    PredictionEvent.objects.bulk_create(
        PredictionEvent(deployment=deployment, event_id=f"e{i}", timestamp=start + timedelta(seconds=i), version=1,
                        latency_ms=20.0 + i, status="ok", prediction=i % 2, score=0.5, features={"income": i})
        for i in range(500)
    )
    return blob


def test_it_round_trips_database_and_artifacts_into_an_empty_database(artifact_dir, tmp_path, lose_the_database):
    blob = _world()
    counts, events = _row_counts(), AuditEvent.objects.count()
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"]["format"] == {"postgresql": "pg_dump", "sqlite": "sqlite"}[connection.vendor]
    assert manifest["database"]["rows"]["telemetry_predictionevent"] == 500

    lose_the_database()  # lose the machine: a new, empty database…
    store_b = artifact_dir(tmp_path / "store-b")  # …and an empty artifact store
    out = io.StringIO()
    call_command("restore", str(archive), stdout=out)

    assert "restore verified" in out.getvalue()
    assert f"audit chain verified, {events:,} events" in out.getvalue()
    assert _row_counts() == counts
    assert _stored_files(store_b) == [f"sha256/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"]
    with open_blob(ArtifactBlob.objects.get(sha256=blob.sha256)) as handle:
        assert handle.read() == b"model-bytes-" * 1000
    assert verify_chain().ok
    assert get_user_model().objects.get(username="dana").check_password("dana-demo-pass")


def _forge_event():
    """An event appended without the writer: its hash is wrong, so the chain breaks there."""
    AuditEvent.objects.create(action="forged", prev_hash=GENESIS_HASH, hash="f" * 64, created_at=datetime.now(UTC))


def _overstate_rows(archive: Path, out: Path):
    def mutate(member, data):
        if member.name == "manifest.json":  # the manifest lists the hashes; it is not in them
            manifest = json.loads(data)
            manifest["database"]["rows"]["auth_user"] += 1
            data = json.dumps(manifest).encode()
        return member, data

    _rewrite(archive, out, mutate)


@pytest.mark.parametrize(("spoil", "reason"), [
    ("chain", r"verifying the audit chain|the audit chain is broken at event #\d+"),
    ("rows", "row counts differ from the manifest: auth_user has"),
])
def test_it_removes_what_it_restored_when_verification_fails(artifact_dir, tmp_path, lose_the_database, spoil, reason):
    _world()
    if spoil == "chain":
        _forge_event()
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    if spoil == "rows":
        _overstate_rows(archive, tmp_path / "spoiled.tar")
        archive = tmp_path / "spoiled.tar"
    lose_the_database()
    store_b = artifact_dir(tmp_path / "store-b")

    with pytest.raises(CommandError, match=f"restore failed and what it restored was removed: .*({reason})"):
        call_command("restore", str(archive), stdout=io.StringIO())

    assert connection.introspection.table_names(include_views=True) == []
    assert _stored_files(store_b) == []
    if connection.vendor == "postgresql":  # the audit guard's function went with the tables
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'core_auditevent_append_only'")
            assert cursor.fetchone()[0] == 0


def _rewrite(archive_path, out_path, mutate):
    with tarfile.open(archive_path) as src, tarfile.open(out_path, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            member, data = mutate(member, data)
            if member is not None:
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))


def test_it_refuses_a_corrupt_truncated_or_hostile_archive_and_changes_nothing(artifact_dir, tmp_path, lose_the_database):
    call_command("seed_demo", parts="")
    store_stream([b"weights"])
    good = tmp_path / "good.tar"
    call_command("backup", str(good), stdout=io.StringIO())
    lose_the_database()
    store_b = artifact_dir(tmp_path / "empty-store")

    corrupt = tmp_path / "corrupt.tar"

    def flip_a_byte(member, data):
        if member.name.startswith("database."):
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return member, data

    _rewrite(good, corrupt, flip_a_byte)
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    slip = tmp_path / "slip.tar"

    def add_traversal(member, data):
        if member.name == "manifest.json":
            manifest = json.loads(data)
            manifest["members"]["../../etc/evil"] = {"sha256": "0" * 64, "size": 1}
            return member, json.dumps(manifest).encode()
        if member.name.startswith("database."):
            member.name = "../../etc/evil"
        return member, data

    _rewrite(good, slip, add_traversal)
    probe = tmp_path / "probe.tar"

    def add_blob_outside_the_store(member, data):
        if member.name == "manifest.json":
            manifest = json.loads(data)
            manifest["artifacts"]["mode"] = "external"  # blobs are then looked up in the store
            manifest["artifacts"]["blobs"]["../../../etc/passwd"] = {"sha256": "0" * 64, "size": 1}
            data = json.dumps(manifest).encode()
        return member, data

    _rewrite(good, probe, add_blob_outside_the_store)

    for bad, reason in ((corrupt, "mismatch"), (truncated, "truncated or corrupt|has no manifest"),
                        (slip, "unsafe member name"), (probe, "unsafe member name")):
        with pytest.raises(CommandError, match=f"restore refused, nothing was changed: .*({reason})"):
            call_command("restore", str(bad), stdout=io.StringIO())
        assert connection.introspection.table_names(include_views=True) == []
        assert _stored_files(store_b) == []


def test_it_refuses_to_restore_over_existing_data(artifact_dir, tmp_path):
    call_command("seed_demo", parts="")
    archive = tmp_path / "b.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    users = get_user_model().objects.count()
    with pytest.raises(CommandError, match="restore needs an empty database"):
        call_command("restore", str(archive), stdout=io.StringIO())
    assert get_user_model().objects.count() == users


class _PeakRss:
    """Samples this process's RSS every 2 ms while the block runs; ``growth`` is the peak minus the start."""

    def __enter__(self):
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def test_it_round_trips_the_portable_form_with_bounded_memory(artifact_dir, tmp_path, lose_the_database):
    call_command("seed_demo", parts="")
    deployment = make_deployment(Team.objects.get(slug="credit"), "scorecard")
    start = datetime.now(UTC) - timedelta(hours=6)
    n, payload = 6_000, 3000
    for first in range(0, n, 2000):
        PredictionEvent.objects.bulk_create(
            PredictionEvent(deployment=deployment, event_id=f"p{i}", timestamp=start + timedelta(seconds=i), version=1,
                            latency_ms=float(i), status="ok", prediction=1, score=0.25,
                            features={"note": f"{i:08d}" * (payload // 8)})
            for i in range(first, min(first + 2000, n))
        )
    data_bytes = n * payload  # the features alone; every row's JSON is larger
    counts, events = _row_counts(), AuditEvent.objects.count()
    archive = tmp_path / "portable.tar"

    call_command("backup", str(archive), portable=True, stdout=io.StringIO())  # warm: imports, caches
    with _PeakRss() as dump:
        call_command("backup", str(archive), portable=True, stdout=io.StringIO())
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"]["format"] == "jsonl" and "database.jsonl.gz" in manifest["members"]

    lose_the_database()
    artifact_dir(tmp_path / "store-b")
    with _PeakRss() as load:
        call_command("restore", str(archive), stdout=io.StringIO())

    assert PredictionEvent.objects.count() == n
    assert PredictionEvent.objects.get(event_id="p5999").features == {"note": "00005999" * (payload // 8)}
    assert AuditEvent.objects.count() == events and verify_chain().ok
    portable = {t: c for t, c in counts.items() if t in manifest["database"]["rows"]}
    assert {t: c for t, c in _row_counts().items() if t in portable} == portable
    # Streamed both ways: the peak grows by a bounded amount (a batch of rows, the migrate run),
    # not by the data; loading the whole dump would take several times data_bytes.
    assert dump.growth < data_bytes / 4, (dump.growth, data_bytes)
    assert load.growth < data_bytes / 4, (load.growth, data_bytes)


def test_it_drills_a_restore_in_a_scratch_database_and_removes_it(artifact_dir, tmp_path):
    _world()
    counts = _row_counts()
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    scratch_before = _scratch_copies()

    out = io.StringIO()
    call_command("restore", str(archive), drill=True, stdout=out)

    text = out.getvalue()
    assert "drill passed" in text and "restore verified" in text
    assert f"rows: {sum(counts.values()):,} in {len(counts)} tables" in text
    assert f"events: audit chain verified, {AuditEvent.objects.count():,} events" in text
    assert "1 referenced blobs re-hashed (1 copied from the archive)" in text
    assert _scratch_copies() == scratch_before  # the scratch database and store are gone
    assert _row_counts() == counts  # the live database was not touched


def test_it_fails_a_drill_whose_archive_does_not_verify_and_still_removes_the_scratch_copy(artifact_dir, tmp_path):
    _world()
    _forge_event()
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    scratch_before = _scratch_copies()
    with pytest.raises(CommandError, match="the drill's restore failed: .*audit chain is broken"):
        call_command("restore", str(archive), drill=True, stdout=io.StringIO())
    assert _scratch_copies() == scratch_before


def _scratch_copies() -> set[str]:
    import tempfile

    found = {p.name for p in Path(tempfile.gettempdir()).glob("modelgate-drill-*")}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                           [f"{connection.settings_dict['NAME'][:40]}\\_drill\\_%"])
            found |= {name for (name,) in cursor.fetchall()}
    return found


@pytest.mark.postgres  # pg_dump and pg_restore
def test_it_gives_pg_dump_and_pg_restore_the_password_only_through_the_environment(
        artifact_dir, tmp_path, lose_the_database, settings, monkeypatch):
    # Wrappers in PG_BIN_DIR note each call's arguments and whether PGPASSWORD holds the
    # password, then run the real tool (trust authentication ignores the password).
    password = "s3cret-Pa55word-for-the-test"
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        wrapper = bin_dir / tool
        wrapper.write_text(
            "#!/bin/sh\n"
            f'echo "{tool} $*" >> {log}\n'
            f'if [ "$PGPASSWORD" = "{password}" ]; then echo "{tool} PGPASSWORD set" >> {log}; fi\n'
            f'exec {shutil.which(tool)} "$@"\n'
        )
        wrapper.chmod(0o755)
    settings.PG_BIN_DIR = str(bin_dir)
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", password)
    _world()
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    lose_the_database()
    artifact_dir(tmp_path / "store-b")
    call_command("restore", str(archive), stdout=io.StringIO())

    calls = log.read_text().splitlines()
    assert any(c.startswith("pg_dump --format=custom") for c in calls)
    assert any(c.startswith("pg_restore --exit-on-error") for c in calls)
    assert "pg_dump PGPASSWORD set" in calls and "pg_restore PGPASSWORD set" in calls
    assert not [c for c in calls if password in c]


@pytest.fixture
def s3_store(settings):
    """The artifact store on a real S3-compatible server (moto's server mode, on loopback)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", **credentials)
    client.create_bucket(Bucket="modelgate-artifacts")
    settings.STORAGES = settings.STORAGES | {"artifacts": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": "modelgate-artifacts", "location": "prod", "endpoint_url": f"http://{host}:{port}",
        "access_key": "test", "secret_key": "test", "region_name": "us-east-1", "file_overwrite": False, "default_acl": None,
    }}}
    storages._storages.pop("artifacts", None)
    yield client
    storages._storages.pop("artifacts", None)
    server.stop()


def test_it_leaves_a_replicated_bucket_out_and_checks_every_referenced_blob_is_there(s3_store, tmp_path, lose_the_database):
    call_command("seed_demo", parts="")
    kept, lost = store_stream([b"weights-v1" * 100]), store_stream([b"weights-v2" * 100])
    archive = tmp_path / "backup.tar"
    out = io.StringIO()
    call_command("backup", str(archive), no_artifacts=True, stdout=out)
    assert "artifacts left in s3://modelgate-artifacts/prod (2 blobs referenced)" in out.getvalue()
    with tarfile.open(archive) as tar:
        assert not [name for name in tar.getnames() if name.startswith("artifacts/")]
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["artifacts"]["mode"] == "external" and manifest["artifacts"]["store"] == "s3://modelgate-artifacts/prod"
    assert {meta["sha256"] for meta in manifest["artifacts"]["blobs"].values()} == {kept.sha256, lost.sha256}

    lose_the_database()  # the database is lost; the bucket (versioned, replicated) is not…
    body = s3_store.get_object(Bucket="modelgate-artifacts", Key=f"prod/{lost.storage_name}")["Body"].read()
    s3_store.delete_object(Bucket="modelgate-artifacts", Key=f"prod/{lost.storage_name}")  # …but one blob is missing
    with pytest.raises(CommandError, match=f"restore refused, nothing was changed: 1 of the 2 blobs .* missing .*{lost.storage_name}"):
        call_command("restore", str(archive), stdout=io.StringIO())
    assert connection.introspection.table_names(include_views=True) == []

    s3_store.put_object(Bucket="modelgate-artifacts", Key=f"prod/{lost.storage_name}", Body=body)  # e.g. from the replica
    out = io.StringIO()
    call_command("restore", str(archive), stdout=out)
    assert "2 referenced blobs present with their size (0 copied from the archive)" in out.getvalue()
    with open_blob(ArtifactBlob.objects.get(sha256=lost.sha256)) as handle:
        assert handle.read() == b"weights-v2" * 100


def test_it_copies_only_the_blobs_an_s3_store_lacks(s3_store, tmp_path, lose_the_database):
    call_command("seed_demo", parts="")
    kept, lost = store_stream([b"weights-v1" * 100]), store_stream([b"weights-v2" * 100])
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    lose_the_database()
    s3_store.delete_object(Bucket="modelgate-artifacts", Key=f"prod/{lost.storage_name}")

    out = io.StringIO()
    call_command("restore", str(archive), stdout=out)

    assert "2 referenced blobs re-hashed (1 copied from the archive)" in out.getvalue()
    for blob, content in ((kept, b"weights-v1" * 100), (lost, b"weights-v2" * 100)):
        assert s3_store.get_object(Bucket="modelgate-artifacts", Key=f"prod/{blob.storage_name}")["Body"].read() == content
