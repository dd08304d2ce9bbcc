import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Personas get real passwords; PBKDF2 per persona would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def artifact_store(settings, tmp_path):
    """Each test writes blobs into its own folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "artifacts")}},
    }
    from django.core.files.storage import storages

    storages._storages = {}
    yield tmp_path / "artifacts"
    storages._storages = {}


@pytest.fixture
def seeded_environments(db):
    """Dev/UAT/Prod as the data migration seeds them: a transactional test that ran
    before on this worker flushed them away (flush keeps no migration data)."""
    import importlib

    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from governance.models import Environment

    # The same flush recreated content types under new ids; guardian must not use stale cached ones.
    ContentType.objects.clear_cache()
    if not Environment.objects.exists():
        importlib.import_module("governance.migrations.0002_seed_environments").seed(apps, None)
