import pytest
from django.core import mail  # noqa: F401  (locmem outbox is mail.outbox)

from tests.governance.fixtures import make_model, make_version


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Personas get real passwords; PBKDF2 per persona would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded_environments(transactional_db):
    """Transactional tests flush the database, data migrations included: seed Dev/UAT/Prod again."""
    import importlib

    from django.apps import apps

    from governance.models import Environment

    if not Environment.objects.exists():
        importlib.import_module("governance.migrations.0002_seed_environments").seed(apps, None)


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def credit_model(ds_owner, team_credit):
    return make_model(user=ds_owner, team=team_credit, name="credit-scoring")


@pytest.fixture
def version(ds_owner, credit_model):
    return make_version(user=ds_owner, model=credit_model, metrics={"auc": 0.86})
