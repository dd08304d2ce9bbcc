import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Personas get real passwords; PBKDF2 per persona would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
