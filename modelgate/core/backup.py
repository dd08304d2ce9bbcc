"""Backup and restore: one archive holding the database and the artifacts.

Archive layout (an uncompressed tar: the members that compress are compressed already)::

    database.pgdump        PostgreSQL: ``pg_dump`` custom format (compressed)
    database.sqlite3       SQLite: a copy made with SQLite's online backup API
    database.jsonl.gz      ``--portable``: ``dumpdata`` JSON Lines, for moving between databases
    artifacts/<name>       every file of the artifact store (content-addressed blobs),
                           left out with ``--no-artifacts`` (a replicated, versioned bucket)
    manifest.json          last: format, vendor and tool versions, the migration state,
                           every restored table's row count, the blobs the database
                           references, and each member's SHA-256 and size

There is one restore flow: **schema and data into an empty database** (no tables).
``restore`` first reads the whole archive, refusing unsafe member names (absolute,
``..``, links, devices) and checking every member's hash and size, and checks the
target (empty, same vendor, known migrations, client versions, every referenced
blob present when the artifacts stayed outside). Only then does it load the
database (``pg_restore --single-transaction``, SQLite's backup API, or, for the
portable form, ``migrate`` to the archive's migration state and a streamed
``loaddata``), compare every table's row count with the manifest, ``migrate``
forward to this release, copy the blobs the store lacks, and verify the audit
chain and every referenced blob. If any of that fails, it drops what it restored
(the database was empty) and deletes the blobs it copied: all or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import management
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from modelgate.core.audit import verify_chain

FORMAT_VERSION = 2
CHUNK = 1024 * 1024
MEMBERS = {"pg_dump": "database.pgdump", "sqlite": "database.sqlite3", "jsonl": "database.jsonl.gz"}
# Portable form only: rebuilt by migrate on the target (their ids differ), or not worth moving.
# Login lockout state (axes) is transient and tied to this instance's clients.
EXCLUDED_MODELS = ["contenttypes", "auth.permission", "sessions", "admin.logentry", "axes"]
# ... and of those, the rows a portable load must keep (the archive's rows point at them by natural key).
KEPT_ON_LOAD = ["contenttypes.contenttype", "auth.permission"]


class BackupError(Exception):
    """The archive or the target was refused before anything changed."""


class RestoreFailed(BackupError):
    """Restoring or verifying failed; what the restore had written was removed."""


# --- extension point: the blobs the database references --------------------------------
BlobSource = Callable[[], Iterable[tuple[str, str, int]]]
_blob_sources: list[BlobSource] = []


def register_blob_source(source: BlobSource) -> None:
    """``source()`` yields (storage name, SHA-256, size) for every stored blob rows of the
    database reference. Higher apps register theirs in ``AppConfig.ready()``; backup records
    the blobs, restore checks each one exists (and re-hashes it when it came from the archive)."""
    if source not in _blob_sources:
        _blob_sources.append(source)


def _referenced_blobs() -> dict[str, dict]:
    return {name: {"sha256": sha256, "size": size} for source in _blob_sources for name, sha256, size in source()}


# --- helpers --------------------------------------------------------------------------
class _HashingReader:
    """A file-like reader that hashes and counts what passes through it (a stream, read once)."""

    closed = False  # asked by Django's File and the S3 backend before an upload

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self.digest = hashlib.sha256()
        self.size = 0

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        data = self._fileobj.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


def _walk_store(store, prefix=""):
    try:
        dirs, files = store.listdir(prefix)
    except FileNotFoundError:  # an empty local store has no folder yet
        return
    for name in files:
        yield f"{prefix}{name}"
    for name in dirs:
        if not prefix and name in ("tmp", ".readyz"):  # uploads in flight, health probes
            continue
        yield from _walk_store(store, f"{prefix}{name}/")


def describe_store(store) -> str:
    if isinstance(store, FileSystemStorage):
        return str(store.location)
    bucket = getattr(store, "bucket_name", None)
    if bucket:
        return f"s3://{bucket}/{getattr(store, 'location', '')}".rstrip("/")
    return type(store).__name__


def _count_rows(cursor, tables: Iterable[str]) -> dict[str, int]:
    """Every table's row count, in one statement (one snapshot on PostgreSQL)."""
    tables = sorted(tables)
    if not tables:
        return {}
    quote_name = connection.ops.quote_name
    # Table names come from the database's own catalogue, quoted; no value is interpolated.
    sql = " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {quote_name(t)}" for i, t in enumerate(tables))  # noqa: S608
    cursor.execute(sql)
    return {tables[i]: count for i, count in cursor.fetchall()}


def _applied_migrations() -> list[list[str]]:
    return sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())


def _portable_models():
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and meta.app_label not in EXCLUDED_MODELS and meta.label_lower not in EXCLUDED_MODELS:
            yield model


# --- PostgreSQL client tools -----------------------------------------------------------
# libpq reads these from the environment: nothing secret reaches a command line, where
# any user of the machine could read it (``ps``, /proc/<pid>/cmdline).
_LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                  "sslkey": "PGSSLKEY", "passfile": "PGPASSFILE", "service": "PGSERVICE"}


def libpq_env(settings_dict: dict) -> dict[str, str]:
    """The process environment for a PostgreSQL client tool connecting like ``settings_dict``:
    host, port, user, database and password (``PGPASSWORD``) in libpq's variables; without a
    password in the settings, libpq falls back to ``~/.pgpass`` (or ``PGPASSFILE``)."""
    env = dict(os.environ)
    values = {"PGHOST": settings_dict.get("HOST"), "PGPORT": settings_dict.get("PORT"), "PGUSER": settings_dict.get("USER"),
              "PGPASSWORD": settings_dict.get("PASSWORD"), "PGDATABASE": settings_dict.get("NAME")}
    options = settings_dict.get("OPTIONS") or {}
    values.update({var: options.get(option) for option, var in _LIBPQ_OPTIONS.items()})
    env.update({var: str(value) for var, value in values.items() if value not in (None, "")})
    return env


def _pg_tool(name: str) -> str:
    folder = settings.PG_BIN_DIR
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if not found:
        where = f"in PG_BIN_DIR={folder}" if folder else "on PATH"
        raise BackupError(f"{name} was not found {where}: install the PostgreSQL client of the server's major "
                          "version (Debian: postgresql-client-N) or point PG_BIN_DIR at its bin folder")
    return found


def _tool_major(path: str) -> int:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(PostgreSQL\) (\d+)", out)
    if not match:
        raise BackupError(f"cannot tell the version of {path}: {out.strip()!r}")
    return int(match.group(1))


def _run_tool(args: list[str], what: str) -> None:
    result = subprocess.run(args, env=libpq_env(connection.settings_dict), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    if result.returncode:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise BackupError(f"{what} failed (exit {result.returncode}): {tail}")


# --- backup -----------------------------------------------------------------------------
def create_backup(path: str | os.PathLike, *, portable: bool = False, artifacts: bool = True, store=None) -> dict:
    """Write the archive to ``path`` (written under a temporary name, then renamed)."""
    path = Path(path)
    store = store if store is not None else storages["artifacts"]
    with tempfile.TemporaryDirectory(prefix="modelgate-backup-") as tmp:
        tmp = Path(tmp)
        if portable:
            database, blobs = _dump_portable(tmp)
        elif connection.vendor == "postgresql":
            database, blobs = _dump_postgresql(tmp)
        elif connection.vendor == "sqlite":
            database, blobs = _dump_sqlite(tmp)
        else:
            raise BackupError(f"no native backup for {connection.vendor}: use --portable")
        manifest = {
            "format": FORMAT_VERSION, "created_at": timezone.now().isoformat(), "database": database,
            "artifacts": {"mode": "archive" if artifacts else "external", "store": describe_store(store), "blobs": blobs},
            "members": {},
        }
        partial = path.with_name(path.name + ".partial")
        try:
            with tarfile.open(partial, "w", copybufsize=CHUNK) as archive:
                member = database["member"]
                with open(tmp / member, "rb") as src:
                    _add_member(archive, manifest, member, src, (tmp / member).stat().st_size)
                (tmp / member).unlink()
                if artifacts:
                    for name in _walk_store(store):
                        with store.open(name, "rb") as src:
                            _add_member(archive, manifest, f"artifacts/{name}", src, store.size(name))
                data = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                archive.addfile(info, _BytesReader(data))
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


class _BytesReader:
    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk, self._pos = self._data[self._pos:end], min(end, len(self._data))
        return chunk


def _add_member(archive: tarfile.TarFile, manifest: dict, name: str, src, size: int) -> None:
    """Stream ``size`` bytes of ``src`` into the archive, hashing them on the way."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    reader = _HashingReader(src)
    archive.addfile(info, reader)
    manifest["members"][name] = {"sha256": reader.digest.hexdigest(), "size": reader.size}


def _dump_postgresql(tmp: Path) -> tuple[dict, dict]:
    """``pg_dump -Fc`` of the snapshot the row counts and blob list were read in."""
    pg_dump = _pg_tool("pg_dump")
    client, server = _tool_major(pg_dump), connection.pg_version // 10000
    if client < server:
        raise BackupError(f"pg_dump {client} cannot dump a PostgreSQL {server} server: install postgresql-client-{server} "
                          "(docker-compose: build with the PG_MAJOR of the postgres image) or set PG_BIN_DIR")
    target = tmp / MEMBERS["pg_dump"]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            rows = _count_rows(cursor, connection.introspection.table_names(cursor))
        blobs, migrations = _referenced_blobs(), _applied_migrations()
        # pg_dump reads the exported snapshot while this transaction holds it open.
        _run_tool([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"], "pg_dump")
    database = {"member": target.name, "format": "pg_dump", "vendor": "postgresql", "server_version": server_version,
                "client_major": client, "rows": rows, "migrations": migrations}
    return database, blobs


def _dump_sqlite(tmp: Path) -> tuple[dict, dict]:
    """SQLite's online backup into a new file: one consistent copy, page by page."""
    target = tmp / MEMBERS["sqlite"]
    blobs, migrations = _referenced_blobs(), _applied_migrations()
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        tables = [name for (name,) in copy.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
        cursor = copy.cursor()
        rows = _count_rows(cursor, tables)
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
    database = {"member": target.name, "format": "sqlite", "vendor": "sqlite", "server_version": sqlite3.sqlite_version,
                "rows": rows, "migrations": migrations}
    return database, blobs


def _dump_portable(tmp: Path) -> tuple[dict, dict]:
    """``dumpdata`` as gzip-compressed JSON Lines: rows are read with server-side cursors and
    written one by one, so memory does not grow with the database."""
    target = tmp / MEMBERS["jsonl"]
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # one snapshot, so rows and their references agree
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = _count_rows(cursor, {m._meta.db_table for m in _portable_models()})
        blobs, migrations = _referenced_blobs(), _applied_migrations()
        management.call_command("dumpdata", format="jsonl", natural_foreign=True, natural_primary=True,
                                exclude=EXCLUDED_MODELS, output=str(target), verbosity=0)
    database = {"member": target.name, "format": "jsonl", "vendor": connection.vendor, "rows": rows, "migrations": migrations}
    return database, blobs


# --- reading an archive -----------------------------------------------------------------
def _safe_member_name(name: str) -> str:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name or "\x00" in name or not name or ":" in pure.parts[0]:
        raise BackupError(f"unsafe member name in archive: {name!r}")
    return str(pure)


def read_manifest(archive: tarfile.TarFile) -> tuple[dict, dict[str, tarfile.TarInfo]]:
    """The manifest, and the members by name, after checking names, types and the member list."""
    try:
        members = archive.getmembers()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive is truncated or corrupt: {exc}") from None
    by_name = {}
    for member in members:
        name = _safe_member_name(member.name)
        if not member.isfile():
            raise BackupError(f"archive member {name!r} is not a regular file (links and devices are refused)")
        if name in by_name:
            raise BackupError(f"archive member {name!r} appears twice")
        by_name[name] = member
    if "manifest.json" not in by_name:
        raise BackupError("the archive has no manifest.json")
    try:
        manifest = json.load(archive.extractfile(by_name["manifest.json"]))
    except (ValueError, OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive's manifest is unreadable: {exc}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r} (this release reads format {FORMAT_VERSION}; "
                          "restore an older archive with the release that made it, then back up again)")
    expected = manifest.get("members", {})
    unexpected = set(by_name) - set(expected) - {"manifest.json"}
    missing = set(expected) - set(by_name)
    if unexpected or missing:
        raise BackupError(f"archive does not match its manifest (missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    database = manifest.get("database", {})
    if database.get("member") != MEMBERS.get(database.get("format")) or database["member"] not in expected:
        raise BackupError("the manifest names no database member this release can restore")
    for name in expected:
        if name != database["member"] and not name.startswith("artifacts/"):
            raise BackupError(f"unexpected archive member {name!r}")
    for name in manifest.get("artifacts", {}).get("blobs", {}):  # looked up in the store
        _safe_member_name(name)
    return manifest, by_name


def open_archive(path: str | os.PathLike) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*", copybufsize=CHUNK)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not a readable backup archive: {exc}") from None


def _verify_members(archive, manifest, by_name, workdir: Path) -> Path:
    """Hash every member against the manifest; extract only the database member (into ``workdir``)."""
    database_member = manifest["database"]["member"]
    extracted = workdir / database_member
    for name, meta in manifest["members"].items():
        digest = hashlib.sha256()
        size = 0
        try:
            with archive.extractfile(by_name[name]) as src, \
                    (open(extracted, "wb") if name == database_member else contextlib.nullcontext()) as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if dst is not None:
                        dst.write(chunk)
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BackupError(f"the archive is truncated or corrupt at {name!r}: {exc}") from None
        if digest.hexdigest() != meta["sha256"] or size != meta["size"]:
            raise BackupError(f"hash or size mismatch for {name!r}: the archive is corrupt")
        if name.startswith("artifacts/sha256/") and PurePosixPath(name).name != meta["sha256"]:
            raise BackupError(f"content-addressed blob {name!r} does not hold the bytes its name promises")
    return extracted


# --- the target database ----------------------------------------------------------------
class _PostgresTarget:
    # Relations and routines of the database's own schemas that no extension owns.
    _OBJECTS = r"""
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.oid::regclass::text
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    """
    _ORDER = ["VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "TABLE", "SEQUENCE", "PROCEDURE", "FUNCTION"]

    def describe(self) -> str:
        return f"PostgreSQL database {connection.settings_dict['NAME']!r}"

    def objects(self) -> set[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(self._OBJECTS)
            return set(cursor.fetchall())

    def relation_count(self) -> int:
        return sum(1 for kind, _ in self.objects() if kind not in ("FUNCTION", "PROCEDURE"))

    def check_tools(self, manifest: dict) -> None:
        if manifest["database"]["format"] != "pg_dump":
            return
        pg_restore = _pg_tool("pg_restore")
        client, made_by = _tool_major(pg_restore), manifest["database"].get("client_major", 0)
        if client < made_by:
            raise BackupError(f"pg_restore {client} cannot read an archive made by pg_dump {made_by}: "
                              f"install postgresql-client-{made_by} or set PG_BIN_DIR")

    def load_native(self, dump: Path) -> None:
        # One transaction: a failing statement leaves nothing; no owners or grants, so the
        # restoring role owns what it creates.
        _run_tool([_pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                   f"--dbname={connection.settings_dict['NAME']}", str(dump)], "pg_restore")

    def drop_restored(self, before: set) -> None:
        created = sorted(self.objects() - before, key=lambda obj: self._ORDER.index(obj[0]))
        with transaction.atomic(), connection.cursor() as cursor:
            for kind, name in created:  # names as the catalogue prints them, quoted where needed
                cursor.execute(f"DROP {kind} IF EXISTS {name} CASCADE")


class _SqliteTarget:
    def describe(self) -> str:
        return f"SQLite database {connection.settings_dict['NAME']}"

    def objects(self) -> set[tuple[str, str]]:
        return {("table", name) for name in connection.introspection.table_names(include_views=True)}

    def relation_count(self) -> int:
        return len(self.objects())

    def check_tools(self, manifest: dict) -> None:
        pass

    def load_native(self, copy: Path) -> None:
        connection.ensure_connection()
        source = sqlite3.connect(copy)
        try:
            source.backup(connection.connection)
        finally:
            source.close()

    def drop_restored(self, before: set) -> None:
        # The database was empty: copying an empty database over it makes it so again.
        connection.ensure_connection()
        empty = sqlite3.connect(":memory:")
        try:
            empty.backup(connection.connection)
        finally:
            empty.close()


def _target():
    if connection.vendor == "postgresql":
        return _PostgresTarget()
    if connection.vendor == "sqlite":
        return _SqliteTarget()
    raise BackupError(f"restore does not support {connection.vendor}")


# --- restore ----------------------------------------------------------------------------
@dataclass
class RestoreReport:
    manifest: dict
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    audit_events: int = 0
    blobs_checked: int = 0
    blobs_copied: int = 0
    migrations_applied: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        largest = sorted(self.rows.items(), key=lambda item: -item[1])[:3]
        mode = self.manifest["artifacts"]["mode"]
        how = "re-hashed" if mode == "archive" else "present with their size"
        return [
            f"restored the backup of {self.manifest['created_at']} ({self.manifest['database']['format']}) into {self.target}",
            f"rows: {sum(self.rows.values()):,} in {len(self.rows)} tables, each as in the manifest "
            f"(largest: {', '.join(f'{t} {n:,}' for t, n in largest)})",
            f"events: audit chain verified, {self.audit_events:,} events",
            f"artifacts: {self.blobs_checked:,} referenced blobs {how} ({self.blobs_copied:,} copied from the archive)",
            f"migrations applied after loading: {self.migrations_applied}",
            "time: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.seconds.items()),
        ]


def restore_backup(path: str | os.PathLike, *, store=None) -> RestoreReport:
    """Verify the archive, restore it into this empty database and the artifact store, verify the
    result; on any failure remove what was restored."""
    store = store if store is not None else storages["artifacts"]
    started = time.perf_counter()
    target = _target()
    with open_archive(path) as archive, tempfile.TemporaryDirectory(prefix="modelgate-restore-") as tmp:
        manifest, by_name = read_manifest(archive)
        dump = _verify_members(archive, manifest, by_name, Path(tmp))
        report = RestoreReport(manifest=manifest, target=target.describe())
        report.seconds["archive check"] = time.perf_counter() - started
        _check_target(target, manifest, store)
        before = target.objects()
        written: list[str] = []
        step = "loading the database"
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            report.seconds[name] = now - clock
            clock = now

        try:
            if manifest["database"]["format"] == "jsonl":
                _load_portable(dump, manifest)
            else:
                target.load_native(dump)
            ContentType.objects.clear_cache()  # ids cached from the database as it was before
            step = "checking row counts"
            report.rows = _check_rows(manifest["database"]["rows"])
            lap("database")
            step = "migrating to this release"
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if pending:  # an archive from an older release
                management.call_command("migrate", interactive=False, verbosity=0)
            report.migrations_applied = len(pending)
            lap("migrate")
            if manifest["artifacts"]["mode"] == "archive":
                step = "copying artifacts"
                _copy_artifacts(archive, manifest, by_name, store, written)
                report.blobs_copied = len(written)
                lap("artifacts")
            step = "verifying the audit chain"
            chain = verify_chain()
            if not chain.ok:
                raise RestoreFailed(f"the audit chain is broken at event #{chain.first_broken_id}: {chain.reason}")
            report.audit_events = chain.checked
            step = "verifying artifacts"
            report.blobs_checked = _verify_blobs(store, hash_them=manifest["artifacts"]["mode"] == "archive")
            lap("verification")
        except BaseException as exc:
            _undo(target, before, store, written)
            if isinstance(exc, RestoreFailed):
                raise
            if isinstance(exc, Exception):
                raise RestoreFailed(f"{step} failed: {exc}") from exc
            raise
    report.seconds["total"] = time.perf_counter() - started
    return report


def _check_target(target, manifest: dict, store) -> None:
    """Everything that can be known before changing anything."""
    database = manifest["database"]
    if database["format"] != "jsonl" and database["vendor"] != connection.vendor:
        raise BackupError(f"this is a {database['vendor']} archive and this instance runs {connection.vendor}: "
                          "back up with --portable to move between databases")
    relations = target.relation_count()
    if relations:
        raise BackupError(f"restore needs an empty database (no tables): {target.describe()} already has {relations} "
                          "tables, views or sequences. Create a new database (docs/operations.md, Disaster recovery)")
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, name in database["migrations"] if (app, name) not in known)
    if unknown:
        raise BackupError(f"the archive was made by a newer release (migrations unknown here: {', '.join(unknown[:5])}): "
                          "restore it with that release or a later one")
    target.check_tools(manifest)
    if manifest["artifacts"]["mode"] == "external":
        missing = [name for name, meta in manifest["artifacts"]["blobs"].items() if not _stored_with_size(store, name, meta["size"])]
        if missing:
            raise BackupError(f"{len(missing)} of the {len(manifest['artifacts']['blobs'])} blobs the database references are "
                              f"missing from the artifact store {describe_store(store)} (backed up from "
                              f"{manifest['artifacts']['store']}): {', '.join(missing[:5])}")


def _stored_with_size(store, name: str, size: int) -> bool:
    try:
        return store.exists(name) and store.size(name) == size
    except OSError:
        return False


def _load_portable(dump: Path, manifest: dict) -> None:
    """Schema by ``migrate`` at the archive's migration state, then the rows, streamed by ``loaddata``."""
    recorded = {tuple(key) for key in manifest["database"]["migrations"]}
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    if set(graph.leaf_nodes()) <= recorded:  # made at this release's migration state
        management.call_command("migrate", interactive=False, verbosity=0)
    else:
        for app in sorted({app for app, _ in recorded}):
            for key in sorted(recorded):
                if key[0] == app and not any(child.key in recorded and child.key[0] == app for child in graph.node_map[key].children):
                    management.call_command("migrate", app, key[1], interactive=False, verbosity=0)
    ContentType.objects.clear_cache()  # the archive names content types by natural key: look them up afresh
    applied = set(MigrationRecorder(connection).applied_migrations())
    if not recorded <= applied:
        raise RestoreFailed(f"could not migrate to the archive's state (not applied: {sorted(recorded - applied)[:5]})")
    # Rows migrations and post_migrate seeded (roles, environments, the chain head) make way for the archive's own.
    kept = {apps.get_model(label)._meta.db_table for label in KEPT_ON_LOAD}
    tables = [t for t in connection.introspection.django_table_names(only_existing=True) if t not in kept]
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
    management.call_command("loaddata", str(dump), verbosity=0)


def _check_rows(expected: dict[str, int]) -> dict[str, int]:
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        missing = sorted(set(expected) - existing)
        if missing:
            raise RestoreFailed(f"tables missing after loading: {', '.join(missing[:5])}")
        actual = _count_rows(cursor, expected)
    wrong = [f"{table} has {actual[table]:,} rows, the manifest says {count:,}" for table, count in expected.items() if actual[table] != count]
    if wrong:
        raise RestoreFailed(f"row counts differ from the manifest: {'; '.join(wrong[:5])}")
    return actual


def _copy_artifacts(archive, manifest, by_name, store, written: list[str]) -> None:
    """Copy the blobs the store lacks (content-addressed: a name present holds the same bytes,
    which the verification re-hashes anyway), hashing them on the way."""
    for member, meta in manifest["members"].items():
        if not member.startswith("artifacts/"):
            continue
        name = member.removeprefix("artifacts/")
        if store.exists(name):
            continue
        reader = _HashingReader(archive.extractfile(by_name[member]))
        saved = store.save(name, File(reader, name=PurePosixPath(name).name))
        written.append(saved)
        if saved != name:
            raise RestoreFailed(f"the artifact store saved {name!r} as {saved!r}")
        if reader.digest.hexdigest() != meta["sha256"] or reader.size != meta["size"]:
            raise RestoreFailed(f"hash or size mismatch while copying {member!r}")


def _verify_blobs(store, *, hash_them: bool) -> int:
    bad = []
    referenced = _referenced_blobs()
    for name, meta in referenced.items():
        if not _stored_with_size(store, name, meta["size"]):
            bad.append(f"{name} (missing or wrong size)")
        elif hash_them:
            digest = hashlib.sha256()
            with store.open(name, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != meta["sha256"]:
                bad.append(f"{name} (content does not match its SHA-256)")
    if bad:
        raise RestoreFailed(f"{len(bad)} of {len(referenced)} referenced artifact blobs failed verification: {', '.join(bad[:5])}")
    return len(referenced)


def _undo(target, before: set, store, written: list[str]) -> None:
    for name in written:
        with contextlib.suppress(Exception):  # best effort: report the original failure
            store.delete(name)
    target.drop_restored(before)


# --- the restore drill ------------------------------------------------------------------
def restore_drill(path: str | os.PathLike, stdout) -> None:
    """Restore into a scratch database (and, for archived artifacts, a scratch store) with the
    real ``restore`` in a child process, print its figures, and remove the scratch copy."""
    started = time.perf_counter()
    with open_archive(path) as archive:
        manifest, _ = read_manifest(archive)
    env = dict(os.environ)
    scratch_dir = Path(tempfile.mkdtemp(prefix="modelgate-drill-"))
    scratch_db = None
    try:
        if manifest["artifacts"]["mode"] == "archive":
            env["ARTIFACT_STORE"] = str(scratch_dir / "artifacts")
        else:  # blobs stay in the live store; restore only checks they are there
            env["ARTIFACT_STORE"] = _store_url(storages["artifacts"])
        if connection.vendor == "postgresql":
            scratch_db = f"{connection.settings_dict['NAME'][:40]}_drill_{secrets.token_hex(4)}"
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(scratch_db)}")
            except DatabaseError as exc:
                scratch_db = None
                raise BackupError(f"the drill could not create its scratch database (the role needs CREATEDB): {exc}") from None
            env["DATABASE_URL"] = _postgres_url(connection.settings_dict, scratch_db)
        else:
            env["DATABASE_URL"] = f"sqlite:///{scratch_dir / 'drill.sqlite3'}"
        stdout.write(f"drill: restoring {path} into scratch {'database ' + scratch_db if scratch_db else 'SQLite file'} "
                     f"and {'a scratch artifact store' if manifest['artifacts']['mode'] == 'archive' else 'the live store (read only)'}")
        result = subprocess.run([sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "restore", str(path)],
                                env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        for line in result.stdout.splitlines():
            stdout.write(f"  {line}")
        if result.returncode:
            message = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise RestoreFailed(f"the drill's restore failed: {message}")
    finally:
        if scratch_db:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(scratch_db)} WITH (FORCE)")
        shutil.rmtree(scratch_dir, ignore_errors=True)
    stdout.write(f"drill passed in {time.perf_counter() - started:.1f} s; the scratch copy was removed")


def _postgres_url(settings_dict: dict, name: str) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    options = settings_dict.get("OPTIONS") or {}
    query = "&".join(f"{key}={quote(str(options[key]), safe='')}" for key in _LIBPQ_OPTIONS if options.get(key))
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}" + (f"?{query}" if query else "")


def _store_url(store) -> str:
    if isinstance(store, FileSystemStorage):
        return str(store.location)
    return settings.ARTIFACT_STORE
