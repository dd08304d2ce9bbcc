"""Backup and restore: one archive holding the whole database and every artifact.

Archive layout (tar, gzip)::

    manifest.json          format version, created_at, database vendor, per-member SHA-256 and size
    database.json          ``dumpdata`` of every app, natural keys
    artifacts/<name>       every file of the artifact store (content-addressed blobs)

``restore`` reads the manifest first, verifies every member's hash and size
while extracting into a temporary folder, refuses unsafe member names
(absolute, ``..``, links, devices), and only then loads the database and copies
artifacts into the store, all-or-nothing: on any error nothing changes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from django.core import management
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, transaction
from django.utils import timezone

from modelgate.core.audit import ensure_chain_head

FORMAT_VERSION = 1
CHUNK = 1024 * 1024
# Rebuilt by migrate on the target; dumping them would clash with its rows. Login
# lockout state (axes) is transient and tied to this instance's clients: not restored.
EXCLUDED_MODELS = ["contenttypes", "auth.permission", "sessions", "admin.logentry", "axes"]
# Rows that migrations (or post_migrate) seed into every new instance: an "empty" instance
# holds them, and restore replaces them with the archive's own (possibly edited) rows.
SEEDED_MODELS = ["governance.Environment", "core.AuditChainHead"]


class BackupError(Exception):
    pass


def _walk_store(store, prefix=""):
    try:
        dirs, files = store.listdir(prefix)
    except FileNotFoundError:  # an empty local store has no folder yet
        return
    for name in files:
        yield f"{prefix}{name}"
    for name in dirs:
        yield from _walk_store(store, f"{prefix}{name}/")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def create_backup(path: str | os.PathLike) -> dict:
    """Write the archive to ``path`` (written to a temporary name, then renamed)."""
    path = Path(path)
    store = storages["artifacts"]
    manifest = {"format": FORMAT_VERSION, "created_at": timezone.now().isoformat(), "vendor": connection.vendor, "members": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db_path = tmp / "database.json"
        with open(db_path, "w") as out:
            # One repeatable-read snapshot on PostgreSQL so rows and their references agree.
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                management.call_command(
                    "dumpdata", natural_foreign=True, natural_primary=True,
                    exclude=EXCLUDED_MODELS, stdout=out, verbosity=0,
                )
        manifest["members"]["database.json"] = {"sha256": _sha256_file(db_path), "size": db_path.stat().st_size}
        artifact_names = [n for n in _walk_store(store) if not n.startswith(("tmp/", ".readyz/"))]
        partial = path.with_name(path.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(db_path, arcname="database.json")
            for name in artifact_names:
                digest = hashlib.sha256()
                size = 0
                staged = tmp / "blob"
                with store.open(name, "rb") as src, open(staged, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        dst.write(chunk)
                arcname = f"artifacts/{name}"
                archive.add(staged, arcname=arcname)
                manifest["members"][arcname] = {"sha256": digest.hexdigest(), "size": size}
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(data))
        os.replace(partial, path)
    return manifest


def _safe_member_name(name: str) -> str:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name or "\x00" in name or not name or ":" in pure.parts[0]:
        raise BackupError(f"unsafe member name in archive: {name!r}")
    return str(pure)


def _database_is_empty() -> bool:
    from django.apps import apps

    seeded = {label.lower() for label in SEEDED_MODELS}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in seeded or label.startswith(("contenttypes.", "auth.permission", "auth.group", "sessions.", "admin.", "axes.")):
            continue
        if model._meta.managed and not model._meta.proxy and model.objects.exists():
            return False
    return True


def restore_backup(path: str | os.PathLike, *, allow_non_empty: bool = False) -> dict:
    """Verify the whole archive, then load it into this (empty) instance, or change nothing."""
    path = Path(path)
    if not allow_non_empty and not _database_is_empty():
        raise BackupError("restore needs an empty instance (migrated, no data); this one already has data")
    try:
        archive = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not a readable backup archive: {exc}") from None
    with archive, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
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
        manifest = json.load(archive.extractfile(by_name["manifest.json"]))
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
        expected = manifest.get("members", {})
        unexpected = set(by_name) - set(expected) - {"manifest.json"}
        missing = set(expected) - set(by_name)
        if unexpected or missing:
            raise BackupError(f"archive does not match its manifest (missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
        for name, meta in expected.items():
            target = tmp / "members" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            try:
                with archive.extractfile(by_name[name]) as src, open(target, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        dst.write(chunk)
            except (OSError, tarfile.TarError, EOFError) as exc:
                raise BackupError(f"the archive is truncated or corrupt at {name!r}: {exc}") from None
            if digest.hexdigest() != meta["sha256"] or size != meta["size"]:
                raise BackupError(f"hash or size mismatch for {name!r}: the archive is corrupt")
            if name.startswith("artifacts/sha256/") and PurePosixPath(name).name != meta["sha256"]:
                raise BackupError(f"content-addressed blob {name!r} does not hold the bytes its name promises")
        _load(tmp / "members")
    return manifest


def _load(members_dir: Path) -> None:
    store = storages["artifacts"]
    written = []
    try:
        for src in sorted((members_dir / "artifacts").rglob("*")) if (members_dir / "artifacts").exists() else []:
            if not src.is_file():
                continue
            name = src.relative_to(members_dir / "artifacts").as_posix()
            if store.exists(name):
                continue
            if isinstance(store, FileSystemStorage):
                dest = Path(store.path(name))
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            else:
                with open(src, "rb") as handle:
                    store.save(name, File(handle, name=name))
            written.append(name)
        with transaction.atomic():
            from django.apps import apps

            for label in SEEDED_MODELS:
                if apps.is_installed(label.split(".")[0]):
                    apps.get_model(label).objects.all().delete()
            management.call_command("loaddata", str(members_dir / "database.json"), verbosity=0)
            ensure_chain_head()  # an archive made before the head row was seeded may hold none
    except Exception:
        for name in written:  # all-or-nothing: remove what this restore added to the store
            store.delete(name)
        raise
