"""Portal fixtures: a logged-in browser-less client per persona, registry data made
through the registry's own services, and Playwright pointed at Debian's Chromium."""

import os

import pytest
from django.test import Client

from registry import services as registry_services
from registry.choices import ArtifactKind

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "income": {"type": "number", "minimum": 0, "description": "Monthly income in EUR"},
        "age_band": {"type": "string", "enum": ["18-25", "26-40", "41+"]},
        "existing_loans": {"type": "integer"},
    },
    "required": ["income", "age_band"],
}
OUTPUT_SCHEMA = {"type": "object", "properties": {"default_probability": {"type": "number", "minimum": 0, "maximum": 1}}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Browser tests are transactional: their teardown flushes every table, and only
    post_migrate data (role groups) comes back. Put the seeded environments back too,
    so tests that run later in this process find Dev/UAT/Prod as migrations left them."""
    yield
    # After the last test the session's test database is already gone: nothing to restore.
    if item.get_closest_marker("browser") is None or nextitem is None:
        return
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        environments()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium, never a downloaded one (no `playwright install`).
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def plain_http_cookies(settings):
    # The live server speaks plain HTTP: Secure cookies would never be sent back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_console_client_for(user) -> Client:
    """A client signed in as ``user`` with the staff flag the admin console asks for; what they
    may see and change there is still their role's."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return client_for(user)


def make_model(user, team, name="credit-scoring", *, versions=1, ready=True, tags=None, metrics=None, artifact=b"model-bytes",
               input_schema=INPUT_SCHEMA, assessed=True):
    """A registered model with ``versions`` versions, through the registry services (audited like the API);
    ``assessed`` answers its risk-tier questionnaire as Tier 3 (low risk: Prod's assessment gate passes)."""
    from tests.governance.fixtures import assess

    model = registry_services.registered_model_create(
        user=user, name=name, team=team, description=f"{name} for tests", tags=tags or {"use": "lending"}
    )
    if assessed:
        assess(user=user, model=model)
    created = []
    for _ in range(versions):
        mv, _ = registry_services.modelversion_register(
            user=user, registered_model=model, framework="sklearn",
            metrics=metrics or {"auc": 0.86, "accuracy": 0.91}, params={"max_depth": 6},
            input_schema=input_schema, output_schema=OUTPUT_SCHEMA,
            environment={"python": "3.11", "packages": ["scikit-learn==1.5.2"]},
            source_repository="https://git.example.test/credit/scoring", source_commit="a1b2c3d4e5f6",
        )
        if artifact is not None:
            registry_services.artifact_upload(
                user=user, version=mv, path="model/model.skops", chunks=[artifact], kind=ArtifactKind.MODEL
            )
        if ready:
            mv = registry_services.modelversion_finalize(user=user, version=mv)
        created.append(mv)
    model.refresh_from_db()
    return model, created


@pytest.fixture
def credit_model(ds_owner, team_credit):
    return make_model(ds_owner, team_credit)


def environments():
    """Dev/UAT/Prod as the data migration seeds them. Transactional (browser) tests flush the
    tables after each test and only post_migrate data (role groups) comes back, so seed again."""
    import importlib

    from django.apps import apps

    from governance.models import Environment

    if not Environment.objects.exists():
        importlib.import_module("governance.migrations.0002_seed_environments").seed(apps, None)
    return {e.slug: e for e in Environment.objects.all()}


def walk_to_prod_request(owner, ml_engineer, team, name="credit-scoring", *, input_schema=INPUT_SCHEMA, justification=""):
    """A version taken Dev → UAT through the governance services, then a submitted (pending) Prod request."""
    from governance import services as gov

    model, (mv,) = make_model(owner, team, name, input_schema=input_schema)
    for kind, metrics in (("unit", {}), ("e2e", {}), ("acceptance", {"p95_ms": 41.0})):
        gov.ci_test_result_post(user=owner, version=mv, kind=kind, passed=True, metrics=metrics)
    envs = environments()
    gov.deployment_create_direct(user=owner, version=mv, environment=envs["dev"])
    uat = gov.promotion_request_create(user=owner, version=mv, environment=envs["uat"], reason="UAT sign-off")
    gov.promotion_request_submit(user=owner, request=uat)
    gov.promotion_request_approve(user=ml_engineer, request=uat, comment="UAT looks good")
    gov.promotion_request_deploy(user=owner, request=uat)
    prod = gov.promotion_request_create(
        user=owner, version=mv, environment=envs["prod"], reason="Replaces the 2023 scorecard", justification=justification
    )
    gov.promotion_request_submit(user=owner, request=prod)
    return model, mv, prod


@pytest.fixture
def prod_request(ds_owner, mle_teammate, team_credit):
    return walk_to_prod_request(ds_owner, mle_teammate, team_credit)


def fairness_csv(n: int = 400) -> bytes:
    """Deterministic rows with a prediction column (so the fairness report needs no model file)."""
    lines = ["income,age_band,existing_loans,gender,approved,pred"]
    for i in range(n):
        gender = "female" if i % 2 else "male"
        approved = 1 if (i * 7) % 10 < 6 else 0
        pred = approved if i % 5 else 1 - approved
        lines.append(f"{1000 + (i * 37) % 4000},{['18-25', '26-40', '41+'][i % 3]},{i % 4},{gender},{approved},{pred}")
    return ("\n".join(lines) + "\n").encode()


def attach_fairness_dataset(user, version, name="holdout-2026q3"):
    from monitoring.services import reports as report_services

    return report_services.evaluationdataset_attach(
        user=user, version=version, name=name, feature_columns=["income", "age_band", "existing_loans"],
        label_column="approved", prediction_column="pred", sensitive_columns=["gender"], chunks=[fairness_csv()],
    )


def drift_reference_csv(n: int = 400) -> bytes:
    """The training-time data for drift: incomes have since risen (current incomes start at 1000, these at 200)."""
    lines = ["income,age_band,existing_loans,gender,approved,pred"]
    for i in range(n):
        lines.append(f"{200 + (i * 13) % 1500},{['18-25', '26-40', '41+'][i % 3]},{i % 4},{'female' if i % 2 else 'male'},1,1")
    return ("\n".join(lines) + "\n").encode()


def add_version(user, model, *, metrics, artifact=b"model-bytes-2"):
    """One more ready version of ``model`` with its own metrics."""
    mv, _ = registry_services.modelversion_register(
        user=user, registered_model=model, framework="sklearn", metrics=metrics, params={"max_depth": 4},
        input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA, source_repository="https://git.example.test/credit/scoring",
        source_commit="b2c3d4e5f6a7",
    )
    registry_services.artifact_upload(user=user, version=mv, path="model/model.skops", chunks=[artifact], kind=ArtifactKind.MODEL)
    return registry_services.modelversion_finalize(user=user, version=mv)


def _walk(owner, ml_engineer, version, *, p95_ms, until_prod_approvers=None, deployer=None):
    """Dev → UAT (approved, deployed) → a submitted Prod request; approved and deployed too when approvers are given."""
    from governance import services as gov

    for kind, metrics in (("unit", {}), ("e2e", {}), ("acceptance", {"p95_ms": p95_ms})):
        gov.ci_test_result_post(user=owner, version=version, kind=kind, passed=True, metrics=metrics, ci_run_id=f"ci-{version.version}")
    envs = environments()
    gov.deployment_create_direct(user=owner, version=version, environment=envs["dev"])
    uat = gov.promotion_request_create(user=owner, version=version, environment=envs["uat"], reason="UAT sign-off")
    gov.promotion_request_submit(user=owner, request=uat)
    gov.promotion_request_approve(user=ml_engineer, request=uat, comment="UAT looks good")
    gov.promotion_request_deploy(user=owner, request=uat)
    prod = gov.promotion_request_create(user=owner, version=version, environment=envs["prod"], reason="Replaces the 2023 scorecard")
    prod = gov.promotion_request_submit(user=owner, request=prod)
    for approver in until_prod_approvers or []:
        gov.promotion_request_approve(user=approver, request=prod, comment="Reviewed")
    if deployer is not None:
        gov.promotion_request_deploy(user=deployer, request=prod)
    return prod


def report_now(user, version, dataset, kind):
    """A report computed in-process now: its job is dispatched on commit and run eagerly."""
    from django.test import TestCase

    from modelgate.celery import app
    from monitoring.services import reports as report_services

    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            report, _ = report_services.report_request(user=user, version=version, dataset=dataset, kind=kind)
    finally:
        app.conf.task_always_eager = previous
    report.refresh_from_db()
    assert report.status == "succeeded", report.error
    return report


def decision_scenario(owner, ml_engineer, approver, risk, team):
    """credit-scoring v1 serves in Prod (approved by bea and rick); v2 waits for its Prod approval.
    Both have fairness reports on the same holdout; v2's drift report fails (incomes rose), its
    model card's considerations are empty, and Prod's v1 has an open latency alert."""
    from monitoring.services import reports as report_services
    from monitoring.telemetry.models import Alert, SlaRule

    model, (v1,) = make_model(owner, team, metrics={"auc": 0.84, "accuracy": 0.90})
    _walk(owner, ml_engineer, v1, p95_ms=45.0, until_prod_approvers=[approver, risk], deployer=ml_engineer)
    v2 = add_version(owner, model, metrics={"auc": 0.87, "accuracy": 0.89})
    datasets = {}
    for version in (v1, v2):
        datasets[version.pk] = report_services.evaluationdataset_attach(
            user=owner, version=version, name="holdout-2026q3", feature_columns=["income", "age_band", "existing_loans"],
            label_column="approved", prediction_column="pred", sensitive_columns=["gender"], chunks=[fairness_csv()],
            reference_chunks=[drift_reference_csv()], positive_label_meaning="approved",
        )
        report_now(owner, version, datasets[version.pk], "fairness")
    report_now(owner, v2, datasets[v2.pk], "drift")
    prod = _walk(owner, ml_engineer, v2, p95_ms=38.0)
    from governance.models import Deployment

    deployment = Deployment.objects.get(registered_model=model, environment__slug="prod", status="active")
    rule = SlaRule.objects.create(deployment=deployment, name="p95 under 200 ms", metric="latency_p95", threshold=200.0, owner=owner)
    alert = Alert.objects.create(rule=rule, deployment=deployment, severity=rule.severity, summary="p95 latency 312 ms > 200 ms",
                                 value_at_open=312.0, last_value=312.0)
    return {"model": model, "v1": v1, "v2": v2, "request": prod, "deployment": deployment, "alert": alert, "datasets": datasets}
