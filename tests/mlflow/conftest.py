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
