import io
import json
import tarfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from modelgate.core.audit import verify_chain
from modelgate.core.models import AuditEvent, Team
from registry.models import ArtifactBlob
from registry.storage import open_blob, store_stream


@pytest.fixture
def artifact_dir(settings, tmp_path):
    def use(folder):
        settings.STORAGES = settings.STORAGES | {
            "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}
        }
        storages._storages.pop("artifacts", None)

    use(tmp_path / "store-a")
    yield use
    storages._storages.pop("artifacts", None)


@pytest.mark.django_db(transaction=True)
def test_it_round_trips_database_and_artifacts_into_a_fresh_instance(artifact_dir, tmp_path):
    call_command("seed_demo", parts="")  # teams and users; tests/demo/ runs the whole story
    blob = store_stream([b"model-bytes-" * 1000])
    users, teams, events = get_user_model().objects.count(), Team.objects.count(), AuditEvent.objects.count()
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", str(archive))

    call_command("flush", interactive=False)  # lose the machine: empty database…
    artifact_dir(tmp_path / "store-b")  # …and an empty artifact store
    assert not ArtifactBlob.objects.exists()

    call_command("restore", str(archive))

    assert (get_user_model().objects.count(), Team.objects.count(), AuditEvent.objects.count()) == (users, teams, events)
    restored = ArtifactBlob.objects.get(sha256=blob.sha256)
    with open_blob(restored) as handle:
        assert handle.read() == b"model-bytes-" * 1000
    assert verify_chain().ok
    assert get_user_model().objects.get(username="dana").check_password("dana-demo-pass")


def _rewrite(archive_path, out_path, mutate):
    with tarfile.open(archive_path, "r:gz") as src, tarfile.open(out_path, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            member, data = mutate(member, data)
            if member is not None:
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_corrupt_truncated_or_hostile_archive_and_changes_nothing(artifact_dir, tmp_path):
    call_command("seed_demo", parts="")
    store_stream([b"weights"])
    good = tmp_path / "good.tar.gz"
    call_command("backup", str(good))
    call_command("flush", interactive=False)
    artifact_dir(tmp_path / "empty-store")

    corrupt = tmp_path / "corrupt.tar.gz"
    _rewrite(good, corrupt, lambda m, d: (m, d.replace(b"dana", b"evil")) if m.name == "database.json" else (m, d))
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    slip = tmp_path / "slip.tar.gz"

    def add_traversal(member, data):
        if member.name == "manifest.json":
            manifest = json.loads(data)
            manifest["members"]["../../etc/evil"] = {"sha256": "0" * 64, "size": 1}
            return member, json.dumps(manifest).encode()
        if member.name == "database.json":
            member.name = "../../etc/evil"
        return member, data

    _rewrite(good, slip, add_traversal)

    for bad, reason in ((corrupt, "mismatch"), (truncated, "truncated or corrupt"), (slip, "unsafe member name")):
        with pytest.raises(CommandError, match=reason):
            call_command("restore", str(bad))
        assert not get_user_model().objects.exists()
        assert not ArtifactBlob.objects.exists()
        assert not storages["artifacts"].exists("sha256")


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_restore_over_existing_data(artifact_dir, tmp_path):
    call_command("seed_demo", parts="")
    archive = tmp_path / "b.tar.gz"
    call_command("backup", str(archive))
    with pytest.raises(CommandError, match="empty instance"):
        call_command("restore", str(archive))
