"""Demo world, governance part: credit-scorer v1 in Dev and blocked at UAT by the
four-fifths fairness gate; v2 walked Dev (canary next to v1) → UAT → Prod with CI
results and approvals by different people; loan-approval-fair waits in the UAT inbox.
Runs after monitoring's part: the fairness and explainability gates read its reports.

Through the same services as the API, so the audit trail is complete. Idempotent.
"""

from django.contrib.auth import get_user_model

from governance import services
from governance.choices import RequestState
from governance.models import CITestResult, Deployment, Environment, PromotionRequest
from modelgate.core.errors import ApplicationError
from registry import services as registry_services


def _ci(user, version, p95_ms):
    if CITestResult.objects.filter(version=version).exists():
        return
    for kind in ("unit", "e2e"):
        services.ci_test_result_post(user=user, version=version, kind=kind, passed=True, ci_run_id="demo-ci-1",
                                     metrics={"tests": 128})
    services.ci_test_result_post(user=user, version=version, kind="acceptance", passed=True, ci_run_id="demo-ci-1",
                                 metrics={"p95_ms": p95_ms, "p50_ms": p95_ms / 3})


def _promote(stdout, *, requester, version, env, approvers, deployer, reason):
    """Open, submit, approve and deploy unless already done; report gate refusals instead of failing."""
    req = PromotionRequest.objects.filter(version=version, environment=env).exclude(
        state__in=[RequestState.CANCELLED, RequestState.REJECTED, RequestState.EXPIRED]).first()
    try:
        if req is None:
            req = services.promotion_request_create(user=requester, version=version, environment=env, reason=reason)
        if req.state == RequestState.DRAFT:
            req = services.promotion_request_submit(user=requester, request=req)
        for approver in approvers:
            if req.state == RequestState.PENDING and not req.approvals.filter(user=approver).exists():
                req = services.promotion_request_approve(user=approver, request=req, comment=f"Demo: reviewed the evidence for {env.name}.")
        if deployer is not None and req.state == RequestState.APPROVED:
            services.promotion_request_deploy(user=deployer, request=req)
    except ApplicationError as exc:
        stdout.write(f"  {version} → {env.name}: {exc.message}\n")
    return req


# The demo's synthetic loans give AUCs near 0.65-0.75; an administrator calibrates the
# thresholds to that data and adds the report gates (audited policy edits, visible in the trail).
DEMO_THRESHOLDS = {"uat": 0.6, "prod": 0.65}
DEMO_REPORT_GATES = {
    "uat": [{"kind": "fairness_report_passes", "params": {"min_ratio": 0.8}}],
    "prod": [{"kind": "fairness_report_passes", "params": {"min_ratio": 0.8}}, {"kind": "explainability_report_exists", "params": {}}],
}


def _calibrate(admin, env):
    gates = [
        {**g, "params": {**g["params"], "value": DEMO_THRESHOLDS[env.slug]}} if g.get("kind") == "metric_threshold" else g
        for g in env.gates
    ]
    kinds = {g.get("kind") for g in gates}
    gates += [g for g in DEMO_REPORT_GATES[env.slug] if g["kind"] not in kinds]
    if gates != env.gates:
        env = services.environment_update_policy(user=admin, environment=env, data={"gates": gates})
    return env


def seed(stdout, context):
    User = get_user_model()
    dana, mel, bea, rick, ada = (User.objects.get(username=u) for u in ("dana", "mel", "bea", "rick", "ada"))
    versions = context.get("versions", {}).get("credit-scorer")
    if not versions:
        return context
    v1, v2 = versions[0], versions[1]
    dev = Environment.objects.get(slug="dev")
    uat = _calibrate(ada, Environment.objects.get(slug="uat"))
    prod = _calibrate(ada, Environment.objects.get(slug="prod"))
    model = v1.registered_model

    _ci(dana, v1, p95_ms=42.0)
    _ci(dana, v2, p95_ms=38.0)
    if not Deployment.objects.filter(registered_model=model, environment=dev).exists():
        services.deployment_create_direct(user=dana, version=v1, environment=dev, note="Demo: first deployment")
        # Dev canary: v2 takes 20 % of the traffic next to v1.
        services.deployment_create_direct(user=dana, version=v2, environment=dev, note="Demo: canary",
                                          splits=[{"version": v2, "weight": 20}, {"version": v1, "weight": 80}])
    stdout.write("Governance:\n")
    blocked = _promote(stdout, requester=dana, version=v1, env=uat, approvers=[mel], deployer=dana, reason="First candidate.")
    _promote(stdout, requester=dana, version=v2, env=uat, approvers=[mel], deployer=dana, reason="Retrained on repayment outcomes.")
    prod_request = _promote(stdout, requester=dana, version=v2, env=prod, approvers=[bea, rick], deployer=mel, reason="Go live for Q3 lending.")
    prod_request.refresh_from_db()  # deploying changed its state in the database
    if prod_request.state == RequestState.DEPLOYED and not model.aliases.filter(alias="champion").exists():
        registry_services.alias_set(user=mel, registered_model=model, alias="champion", version=v2)
    # Something for the inbox: the fair loan model waits for an ML engineer's UAT approval.
    waiting = None
    fair = (context.get("versions") or {}).get("loan-approval-fair")
    if fair:
        _ci(dana, fair[0], p95_ms=25.0)
        waiting = _promote(stdout, requester=dana, version=fair[0], env=uat, approvers=[], deployer=None, reason="Ready for acceptance tests.")
    stdout.write("  credit-scorer v2 serves in Dev (canary 20 %), UAT and Prod; v1 stays a UAT draft blocked by the four-fifths gate.\n")
    prod_deployment = Deployment.objects.filter(registered_model=model, environment=prod, status="active").first()
    tour = context.setdefault("tour", [])
    if waiting is not None and waiting.state == RequestState.PENDING:
        tour.append(("Inbox (log in as mel): loan-approval-fair v1 → UAT waits for you", "/"))
    tour.append(("Request blocked by the four-fifths gate (credit-scorer v1 → UAT; press Submit to see why)",
                 f"/governance/requests/{blocked.pk}/"))
    tour.append(("Approved Prod request (credit-scorer v2: requester dana, approvers bea and rick, deployed by mel)",
                 f"/governance/requests/{prod_request.pk}/"))
    if prod_deployment is not None:
        tour.append(("Prod deployment of credit-scorer v2 (telemetry dashboard)", f"/monitoring/sla/deployments/{prod_deployment.pk}/"))
    tour.append(("Audit trail and its hash-chain check (log in as audrey)", "/governance/audit/"))
    return context
