"""Demo world, governance part: credit-scorer v1 in Dev and blocked at UAT by its
AUC gate; v2 walked Dev (canary next to v1) → UAT → Prod with CI results and approvals.

Through the same services as the API, so the audit trail is complete. Idempotent.
"""

from django.contrib.auth import get_user_model

from governance import services
from governance.choices import RequestState
from governance.models import CITestResult, Deployment, Environment, PromotionRequest
from modelgate.core.errors import ApplicationError


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


# The demo's synthetic loans give AUCs near 0.6; an administrator calibrates the
# thresholds to that data (an audited policy edit, visible in the trail).
DEMO_THRESHOLDS = {"uat": 0.6, "prod": 0.62}


def _calibrate(admin, env):
    gates = [
        {**g, "params": {**g["params"], "value": DEMO_THRESHOLDS[env.slug]}} if g.get("kind") == "metric_threshold" else g
        for g in env.gates
    ]
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
    _promote(stdout, requester=dana, version=v1, env=uat, approvers=[mel], deployer=dana, reason="First candidate.")
    _promote(stdout, requester=dana, version=v2, env=uat, approvers=[mel], deployer=dana, reason="Retrained on June data.")
    _promote(stdout, requester=dana, version=v2, env=prod, approvers=[bea, rick], deployer=mel, reason="Go live for Q3 lending.")
    stdout.write("  credit-scorer v2 serves in Dev (canary 20 %), UAT and Prod; v1 stays a UAT draft blocked by its gate.\n")
    return context
