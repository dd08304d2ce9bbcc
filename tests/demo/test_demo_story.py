"""`make demo` tells the whole story of issue 9, on the embedded default (SQLite,
local artifacts, tasks in-process), and the demo world survives backup → restore.

One seeding serves every check (the story takes a while even with the small
datasets ``MODELGATE_DEMO_SMALL=1`` selects); the real demo uses the full ones.
"""

import importlib
import io

import numpy as np
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.core.management import call_command

from governance.choices import RequestState
from governance.models import Deployment, Environment, PromotionRequest
from governance.services import gates_evaluate
from modelgate.core.audit import verify_chain
from modelgate.core.models import AuditEvent, Job
from monitoring.models import Report
from monitoring.telemetry.models import Alert
from registry import storage
from registry.models import Artifact, ModelVersion, RegisteredModel

# Every row the demo creates lives in one of these apps; a second run must add none.
STORY_APPS = ("core", "auth", "registry", "governance", "monitoring", "telemetry")


@pytest.fixture
def environments(db):
    # An earlier transactional test's flush removes the data migrations' rows: seed the real policies again.
    ContentType.objects.clear_cache()
    seeded = importlib.import_module("governance.migrations.0002_seed_environments")
    for values in seeded.ENVIRONMENTS:
        Environment.objects.update_or_create(slug=values["slug"], defaults=values)


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


def _row_counts() -> dict:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in STORY_APPS and not model._meta.proxy
    }


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _check_story(output: str) -> None:
    users = get_user_model().objects
    scorer = RegisteredModel.objects.get(name="credit-scorer")
    v1, v2 = (ModelVersion.objects.get(registered_model=scorer, version=n) for n in (1, 2))
    uat, prod = Environment.objects.get(slug="uat"), Environment.objects.get(slug="prod")

    assert RegisteredModel.objects.count() == 5
    assert {t for t in RegisteredModel.objects.values_list("team__slug", flat=True)} == {"credit", "fraud", "marketing"}

    # v1 learnt the bias of past decisions: its request to UAT stays a draft, blocked by the four-fifths rule.
    blocked = PromotionRequest.objects.get(version=v1, environment=uat)
    assert blocked.state == RequestState.DRAFT
    fairness_gate = next(g for g in gates_evaluate(version=v1, environment=uat)["gates"] if g["kind"] == "fairness_report_passes")
    assert not fairness_gate["passed"] and "Four-fifths rule fails for: gender=female" in fairness_gate["message"], fairness_gate
    assert fairness_gate["value"] < 0.8 and fairness_gate["threshold"] == 0.8
    assert Report.objects.get(version=v1, kind="fairness").verdict == "fail"
    assert Report.objects.get(version=v2, kind="fairness").verdict == "pass"

    # v2 walked Dev → UAT → Prod through real requests, each approved by someone other than the requester.
    assert Deployment.objects.filter(registered_model=scorer, environment__slug="dev", status="active", splits__version=v2).exists()
    for env, approver_roles in ((uat, {"ml_engineer"}), (prod, {"business_approver", "risk_officer"})):
        request = PromotionRequest.objects.get(version=v2, environment=env)
        assert request.state == RequestState.DEPLOYED, (env, request.state)
        assert all(g["passed"] for g in request.evidence["submitted"]["gates"]), request.evidence
        approvals = list(request.approvals.all())
        assert {a.role for a in approvals} == approver_roles
        assert request.requested_by_id not in {a.user_id for a in approvals}
        assert len({a.user_id for a in approvals}) == len(approvals)
    live = Deployment.objects.get(registered_model=scorer, environment=prod, status="active")
    assert [(s.version_id, s.weight) for s in live.splits.all()] == [(v2.pk, 100)]
    assert scorer.aliases.get(alias="champion").version_id == v2.pk

    # Explainability, fairness and drift computed for both versions, all succeeded; no job failed.
    for version in (v1, v2):
        assert set(version.reports.filter(status="succeeded").values_list("kind", flat=True)) == {"explainability", "fairness", "drift"}
    assert not Report.objects.exclude(status="succeeded").exists()
    # One model, one explained output (tests/monitoring/test_explanation_sign.py has the full check): the
    # credit models' explanations explain default_probability, and richer applicants are less likely to default.
    for version in (v1, v2):
        explained = version.reports.get(kind="explainability")
        assert explained.results["explained_output"]["text"] == "default_probability = P(default = 1)"
        income = next(c for c in explained.results["partial_dependence"] if c["feature"] == "income")["average"]
        dependence = explained.figures["dependence-income"]["data"][0]
        assert income[-1] < income[0] and np.corrcoef(dependence["x"], dependence["y"])[0, 1] < 0
    assert v1.reports.get(kind="fairness").results["favourable_outcome"]["text"] == "selected = predicted default = 0, i.e. repays"
    assert not Job.objects.exclude(status="succeeded").exists(), list(Job.objects.exclude(status="succeeded").values("kind", "status", "error"))

    # Production telemetry ends in a latency regression that opened the p95 alert.
    alert = Alert.objects.get(deployment=live, rule__metric="latency_p95")
    assert alert.state == "open"

    # The inbox has something to decide, and the tour names the pages.
    assert PromotionRequest.objects.filter(state=RequestState.PENDING, version__registered_model__name="loan-approval-fair").exists()
    for url in (f"/governance/requests/{blocked.pk}/", f"/monitoring/sla/deployments/{live.pk}/", "/monitoring/sla/alerts/"):
        assert url in output, url
    assert users.get(username="bea").check_password("bea-demo-pass")
    _check_model_risk(scorer, v2, prod)
    assert verify_chain().ok


def _check_model_risk(scorer, v2, prod) -> None:
    """Issue 25: credit models Tier 1 / EU high-risk; v2 validated (before Prod) with one closed and
    one open low finding; the fraud model Tier 2 with its revalidation overdue."""
    from django.utils import timezone

    from governance.modelrisk.models import InventoryRecord, Validation
    from governance.modelrisk.selectors import inventory_rows

    credit = InventoryRecord.objects.filter(registered_model__team__slug="credit")
    assert credit.count() == 3 and set(credit.values_list("tier", "eu_ai_act_category")) == {(1, "high_risk")}
    validation = Validation.objects.get(version=v2)
    assert validation.outcome == "approved" and validation.validator.username == "vera"
    assert sorted(validation.findings.values_list("severity", "state")) == [("low", "closed"), ("low", "open")]
    prod_request = PromotionRequest.objects.get(version=v2, environment=prod)
    assert validation.signed_at < prod_request.submitted_at
    gates = {g["kind"]: g for g in prod_request.evidence["submitted"]["gates"]}
    assert gates["validation_approved"]["passed"] and gates["no_open_findings"]["passed"]
    fraud = InventoryRecord.objects.get(registered_model__name="fraud-detector")
    assert fraud.tier == 2
    assert Validation.objects.get(version__registered_model__name="fraud-detector").valid_until < timezone.localdate()
    rick = get_user_model().objects.get(username="rick")
    rows = {r["model"].name: r for r in inventory_rows(rick)}
    assert rows["fraud-detector"]["validation_status"] == "overdue"
    assert rows["credit-scorer"]["in_prod"] and rows["credit-scorer"]["validation_status"] == "current"


@pytest.mark.django_db(transaction=True)
def test_it_tells_the_story_idempotently_and_round_trips_through_backup(artifact_dir, tmp_path, monkeypatch, run_jobs_inline, environments,
                                                                       lose_the_database):
    # In-process jobs even when CI configures a broker: the seed's worker path is exercised by `make demo` on Redis.
    monkeypatch.setenv("MODELGATE_DEMO_SMALL", "1")
    output = _seed()
    _check_story(output)

    counts, events = _row_counts(), AuditEvent.objects.count()
    _seed()
    assert _row_counts() == counts  # running it twice creates nothing new…
    assert AuditEvent.objects.count() == events  # …and records nothing new

    # Lose the machine: back up, empty the database and the artifact store, restore.
    versions = set(ModelVersion.objects.values_list("registered_model__name", "version", "status"))
    artifacts = set(Artifact.objects.values_list("version__registered_model__name", "version__version", "path", "blob__sha256"))
    archive = tmp_path / "demo-backup.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    lose_the_database()
    artifact_dir(tmp_path / "store-b")
    call_command("restore", str(archive), stdout=io.StringIO())

    assert set(ModelVersion.objects.values_list("registered_model__name", "version", "status")) == versions
    assert set(Artifact.objects.values_list("version__registered_model__name", "version__version", "path", "blob__sha256")) == artifacts
    assert all(storage.verify_blob(a.blob) for a in Artifact.objects.select_related("blob"))
    assert _row_counts() == counts
    call_command("verify_audit", stdout=io.StringIO())
    _check_story(output)
