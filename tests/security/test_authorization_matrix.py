"""Authorization matrix generated from the URL conf.

Every named route (API, MLflow, portal, admin, health, schema) × every method it serves ×
every persona is called against one shared world (``tests.security.world``) and checked
against ``POLICY``: which personas may pass authorization. A route or method without a
policy row fails ``test_it_has_a_policy_for_every_route``, so a new endpoint cannot ship
without one.

- Refused: 401/403/404/405 (API and MLflow anonymous or revoked token → 401; portal
  anonymous → redirect to the login page; another team on an object URL → 404 when its
  role would pass), and no row count nor audit event count changed.
- Permitted: not 401/403/404/405, no 5xx, no redirect to the login page. Bodies are
  minimal, so a permitted call may well answer 400 or 409: authorization passed.

Each call runs in a savepoint rolled back afterwards, so every persona meets the same world.
"""

from __future__ import annotations

import json
import os

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client

from tests.security.urlconf import routes, team_of_url, url_for
from tests.security.world import ALIAS, MODEL, build_world, personal_tokens

pytestmark = pytest.mark.django_db

ANON, REVOKED = "anonymous", "revoked"
PERSONAS = (ANON, REVOKED, "ds_owner", "mle_teammate", "approver", "risk", "auditor", "admin_user", "outsider")

# --- persona groups ------------------------------------------------------------------
EVERYONE = frozenset(PERSONAS)
SIGNED_IN = EVERYONE - {ANON, REVOKED}
NOBODY = frozenset()
ADMIN = frozenset({"admin_user"})
AUDIT = frozenset({"auditor", "admin_user"})
# Readers of the credit team's objects: its members and the roles that see every team.
READERS = SIGNED_IN - {"outsider"}
# Writers of the credit team's objects: its practitioners and admins.
TEAM = frozenset({"ds_owner", "mle_teammate", "admin_user"})
# Practitioners creating things of their own (the outsider creates in its own team).
PRACTITIONERS = TEAM | {"outsider"}
OWNER_ONLY = frozenset({"ds_owner"})  # own tokens, own jobs

# --- the policy: route name → method → personas that pass authorization ----------------
POLICY: dict[str, dict[str, frozenset]] = {}


def _set(name, **methods):
    POLICY[name] = {m.upper(): frozenset(v) for m, v in methods.items()}


# Public probes and pages
_set("healthz", get=EVERYONE)
_set("readyz", get=EVERYONE)
_set("login", get=EVERYONE, post=EVERYONE, put=EVERYONE)
_set("logout", post=EVERYONE)
# Single sign-on routes answer 404 while OIDC_ISSUER is unset (as here); with it set they are
# exercised against a real provider in tests/people/test_sso_browser.py.
_set("oidc_authentication_init", get=NOBODY)
_set("oidc_authentication_callback", get=NOBODY)
# Public, but a revoked token presented to them is refused rather than ignored.
_set("schema", get=EVERYONE - {REVOKED})
_set("swagger-ui", get=EVERYONE - {REVOKED})
_set("admin:index", get=ADMIN)

# REST API (/api/v1/). Practitioners create in their own team (the outsider too, in
# "fraud"); the credit team's objects are read by READERS and changed by TEAM.

# MLflow REST (/api/2.0/mlflow/): the same rules through the MLflow wire format.
_set("mlflow:model-version-create", post=TEAM)
_set("mlflow:model-version-delete", delete=ADMIN)
_set("mlflow:model-version-delete-tag", delete=TEAM)
_set("mlflow:model-version-download-uri", get=READERS)
_set("mlflow:model-version-get", get=READERS)
_set("mlflow:model-version-search", get=SIGNED_IN)
_set("mlflow:model-version-set-tag", post=TEAM)
_set("mlflow:model-version-transition-stage", post=TEAM)
_set("mlflow:model-version-update", patch=TEAM)
_set("mlflow:registered-model-alias", delete=TEAM, get=READERS, post=TEAM)
_set("mlflow:registered-model-create", post=PRACTITIONERS)
_set("mlflow:registered-model-delete", delete=TEAM)
_set("mlflow:registered-model-delete-tag", delete=TEAM)
_set("mlflow:registered-model-get", get=READERS)
_set("mlflow:registered-model-latest-versions", get=READERS, post=READERS)
_set("mlflow:registered-model-rename", post=TEAM)
_set("mlflow:registered-model-search", get=SIGNED_IN)
_set("mlflow:registered-model-set-tag", post=TEAM)
_set("mlflow:registered-model-update", patch=TEAM)
_set("v1:artifact-detail", get=READERS, put=TEAM)
_set("v1:artifact-list", get=READERS)
_set("v1:auditevent-detail", get=AUDIT)
_set("v1:auditevent-export", get=AUDIT)
_set("v1:auditevent-list", get=AUDIT)
_set("v1:auditevent-verify", get=AUDIT)
_set("v1:citestresult-detail", get=READERS)
_set("v1:citestresult-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:dataset-detail", get=READERS)
_set("v1:dataset-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:datasetversion-detail", get=READERS)
_set("v1:datasetversion-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:datatest-detail", delete=TEAM, get=READERS)
_set("v1:datatest-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:deployment-board", get=READERS)
_set("v1:deployment-detail", get=READERS)
_set("v1:deployment-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:deployment-retire", post=TEAM)
_set("v1:deployment-review", post={"admin_user", "risk"})
_set("v1:deployment-rollback", post=TEAM - {"ds_owner"})
_set("v1:environment-detail", get=SIGNED_IN, patch=ADMIN)
_set("v1:environment-list", get=SIGNED_IN)
_set("v1:evaluationdataset-detail", get=READERS)
_set("v1:evaluationdataset-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:evaluationdataset-what-if", post=TEAM)
_set("v1:governancealert-list", get=SIGNED_IN)
_set("v1:job-detail", get=SIGNED_IN - {"mle_teammate", "outsider"})
_set("v1:job-list", get=SIGNED_IN)
_set("v1:me", get=SIGNED_IN)
_set("v1:modelalias-detail", delete=TEAM, put=TEAM)
_set("v1:modelcard-detail", get=READERS, patch=TEAM)
_set("v1:modelcard-generate", post=TEAM)
_set("v1:modelcard-html", get=READERS)
_set("v1:modelversion-detail", get=READERS, patch=TEAM)
_set("v1:modelversion-finalize", post=TEAM)
_set("v1:modelversion-lineage", get=READERS)
_set("v1:modelversion-list", get=READERS, post=TEAM)
_set("v1:modelversion-validate-row", post=SIGNED_IN - {"auditor", "outsider"})
_set("v1:promotionrequest-approve", post=SIGNED_IN - {"auditor", "ds_owner", "outsider"})
_set("v1:promotionrequest-cancel", post=TEAM)
_set("v1:promotionrequest-decide-override", post={"admin_user", "risk"})
_set("v1:promotionrequest-deploy", post=TEAM)
_set("v1:promotionrequest-detail", get=READERS, patch=TEAM)
_set("v1:promotionrequest-gates", get=READERS)
_set("v1:promotionrequest-inbox", get=SIGNED_IN)
_set("v1:promotionrequest-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:promotionrequest-reject", post=SIGNED_IN - {"auditor", "ds_owner", "outsider"})
_set("v1:promotionrequest-submit", post=TEAM)
_set("v1:registeredmodel-detail", delete=TEAM, get=READERS, patch=TEAM)
_set("v1:registeredmodel-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:registeredmodel-rename", post=TEAM)
_set("v1:registeredmodel-share", post=TEAM)
_set("v1:registeredmodel-unshare", post=TEAM)
_set("v1:report-detail", get=READERS)
_set("v1:report-figures", get=READERS)
_set("v1:report-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:slarule-detail", delete=TEAM, get=READERS, patch=TEAM)
_set("v1:slarule-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:telemetry-alert-acknowledge", post=TEAM)
_set("v1:telemetry-alert-detail", get=READERS)
_set("v1:telemetry-alert-list", get=SIGNED_IN)
_set("v1:telemetry-alert-resolve", post=TEAM)
_set("v1:telemetry-canary", get=READERS)
_set("v1:telemetry-dashboard", get=READERS)
_set("v1:telemetry-events", post=PRACTITIONERS)
_set("v1:telemetry-ground-truth", post=PRACTITIONERS)
_set("v1:telemetry-overview", get=SIGNED_IN)
_set("v1:team-list", get=SIGNED_IN, post=ADMIN)
_set("v1:team-detail", get=SIGNED_IN, patch=ADMIN)
_set("v1:team-add-member", post=ADMIN)
_set("v1:team-remove-member", post=ADMIN)
_set("v1:token-detail", get=OWNER_ONLY)
_set("v1:token-list", get=SIGNED_IN - {"approver", "risk"}, post=PRACTITIONERS)
_set("v1:token-revoke", post=OWNER_ONLY)
_set("v1:trainingrun-detail", get=READERS)
_set("v1:trainingrun-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:user-list", get=ADMIN, post=ADMIN)
_set("v1:user-detail", get=ADMIN)
_set("v1:user-grant-role", post=ADMIN)
_set("v1:user-revoke-role", post=ADMIN)
_set("v1:user-deactivate", post=ADMIN)
_set("v1:user-activate", post=ADMIN)
_set("v1:version-search-list", get=SIGNED_IN)
_set("v1:versionlifecycle-detail", get=READERS)
_set("v1:versionlifecycle-list", get=SIGNED_IN, post=PRACTITIONERS)
_set("v1:webhook-detail", delete=ADMIN, get=AUDIT, patch=ADMIN)
_set("v1:webhook-list", get=AUDIT, post=ADMIN)
_set("v1:webhookallowedaddress-detail", delete=ADMIN, get=AUDIT)
_set("v1:webhookallowedaddress-list", get=AUDIT, post=ADMIN)
_set("v1:webhookdelivery-detail", get=AUDIT)
_set("v1:webhookdelivery-list", get=AUDIT)
_set("v1:webhookdelivery-redeliver", post=ADMIN)
# Model risk (issue 25). The owning team or a risk officer describe and assess; only a model
# validator outside the team validates and decides findings — no persona here is one, so those
# rows are NOBODY (tests/security/test_invariants.py and tests/modelrisk cover the validator).
TEAM_AND_RISK = TEAM | {"risk"}
_set("v1:inventoryrecord-list", get=SIGNED_IN)
_set("v1:inventoryrecord-detail", get=READERS, patch=TEAM_AND_RISK)
_set("v1:inventoryrecord-assess", post=TEAM_AND_RISK)
_set("v1:inventoryrecord-override-tier", post={"risk", "admin_user"})
_set("v1:tierpolicy-list", get=SIGNED_IN)
_set("v1:tierpolicy-detail", get=SIGNED_IN)
_set("v1:validation-list", get=SIGNED_IN, post=NOBODY)
_set("v1:validation-detail", get=READERS, patch=NOBODY)
_set("v1:validation-sign", post=NOBODY)
_set("v1:finding-list", get=SIGNED_IN, post=NOBODY)
_set("v1:finding-detail", get=READERS)
_set("v1:finding-remediate", post=TEAM)
_set("v1:finding-close", post=NOBODY)
_set("v1:finding-reopen", post=NOBODY)
_set("v1:finding-accept-risk", post={"risk", "admin_user"})
_set("v1:modeldocument-list", get=SIGNED_IN, post=TEAM_AND_RISK)
_set("v1:modeldocument-detail", get=READERS, patch=TEAM_AND_RISK)
_set("v1:modeldocument-export", get=READERS)

# Portal pages (HTML). Function views: the methods are the ones declared here.
_set("home", get=SIGNED_IN)
_set("registry:model-list", get=SIGNED_IN)
_set("registry:model-detail", get=READERS)
_set("registry:version-detail", get=READERS)
_set("registry:training-run-resolve", post=TEAM)
_set("registry:report-request", post=TEAM)
_set("registry:report-progress", get=READERS)
_set("registry:whatif-request", post=TEAM)
_set("registry:whatif-result", get=OWNER_ONLY)
_set("governance:request-list", get=SIGNED_IN)
_set("governance:request-detail", get=READERS)
_set("governance:request-status", get=READERS)
_set("governance:audit", get=AUDIT)
_set("governance:audit-verify", get=AUDIT)
_set("governance:request-evidence", get=READERS)  # the evidence pack, .pdf and .html
_set("governance:access-review", get=AUDIT)
_set("governance:access-log", get=AUDIT)
_set("governance:access-log-export", get=AUDIT)
# The world's request is a draft: every reader reaches the state check (409, nothing changes);
# who may decide a pending request is in the API rows above and in tests/governance.
_set("governance:request-decide", post=READERS)
_set("governance:request-override", post={"risk", "admin_user"})
_set("governance:request-action", post=TEAM)
_set("governance:version-promote", post=TEAM)
_set("governance:version-deploy", post=TEAM)
_set("governance:deployment-rollback", post=TEAM - {"ds_owner"})
_set("telemetry:overview", get=SIGNED_IN)
_set("telemetry:dashboard", get=READERS)
# The world's deployment serves one version: no canary page for anyone (404); canary
# pages of a split deployment are covered in tests/telemetry.
_set("telemetry:canary", get=NOBODY)
_set("telemetry:alert-list", get=SIGNED_IN)
_set("telemetry:alert-detail", get=READERS)
_set("telemetry:alert-acknowledge", post=TEAM)
_set("telemetry:alert-resolve", post=TEAM)
_set("monitoring:report-detail", get=READERS)
_set("governance:model-risk-dashboard", get=SIGNED_IN)
_set("governance:model-risk", get=READERS)
_set("governance:model-risk-action", post=TEAM_AND_RISK)  # "describe"
_set("governance:validation-detail", get=READERS)
_set("governance:validation-action", post=NOBODY)  # "checklist": the validator's own, in progress
_set("governance:finding-action", post=TEAM)  # "remediate"
_set("governance:document-detail", get=READERS)
_set("governance:document-save", post=TEAM_AND_RISK)
_set("governance:document-export", get=READERS)
_set("monitoring:modelcard-detail", get=READERS)
# Teams and people: administrators only (the services refuse everyone else too).
_set("people", get=ADMIN)
for _name in ("team-create", "team-rename", "member-add", "member-remove", "role-grant", "role-revoke", "user-active"):
    _set(f"people-{_name}", post=ADMIN)
RESULTS_FILE = os.environ.get("AUTHZ_MATRIX_DUMP")  # write observations to a file to help write rows


def _tables():
    tables = []
    for label in ("auth", "core", "registry", "governance", "monitoring", "telemetry", "guardian"):
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        tables += [m._meta.db_table for m in config.get_models() if m._meta.managed and not m._meta.proxy]
    return sorted(set(tables))


def _counts():
    """Row counts of every table our apps own (the audit chain included), in one query."""
    tables = _tables()
    quote = connection.ops.quote_name
    # Table names come from our models' metadata, quoted: no user input reaches this string.
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


# Valid bodies where a view validates its input before looking the object up, so the
# answer shows the authorization decision rather than the validation one.
API_BODIES = {
    "v1:registeredmodel-rename": {"name": "credit-renamed"},
    "v1:registeredmodel-share": {"team": "fraud"},
    "v1:registeredmodel-unshare": {"team": "fraud"},
    "v1:telemetry-alert-resolve": {"resolution": "fixed"},
    "v1:inventoryrecord-assess": {"answers": {"materiality": "low", "complexity": "low", "reliance": "informational",
                                              "decisions_about_people": False, "eu_ai_act_category": "minimal"}},
    "v1:inventoryrecord-override-tier": {"tier": 1, "reason": "feeds the capital model"},
    "v1:validation-list": lambda w: {"version_id": w["version"].pk, "scope": "mine"},
    "v1:validation-sign": {"outcome": "approved"},
    "v1:finding-list": lambda w: {"validation_id": w["validation"].pk, "title": "t", "severity": "low",
                                  "description": "d", "owner": "dana", "due_date": "2099-01-01"},
    "v1:finding-remediate": {"remediation": "fixed"},
    "v1:finding-close": {"comment": "ok"},
    "v1:finding-reopen": {"comment": "no"},
    "v1:finding-accept-risk": lambda w: {"reason": "compensating control",
                                         "expires": (w["finding"].due_date).isoformat()},
    "v1:modeldocument-list": lambda w: {"version_id": w["version"].pk},
    "v1:modeldocument-detail": {"texts": {}},
}
PORTAL_BODIES = {
    "registry:whatif-request": lambda w: {"dataset": w["evaluationdataset"].pk},
    "governance:version-promote": lambda w: {"environment": "uat"},
    "governance:version-deploy": lambda w: {"environment": "dev"},
    "governance:request-decide": lambda w: {"decision": "approve", "comment": "ok"},
    "governance:request-override": lambda w: {"approve": "true", "comment": "ok"},
}
QUERIES = {"v1:deployment-board": f"?model={MODEL}"}

MLFLOW_PARAMS = {"name": MODEL, "version": "1", "alias": ALIAS, "key": "k", "value": "v", "stage": "Staging",
                 "new_name": "credit-scoring-renamed", "description": "d",
                 "source": "s3://bucket/credit/model"}


def _request(client, route, url, method, persona, world):
    kwargs = {}
    if route.kind == "mlflow":
        params = dict(MLFLOW_PARAMS)
        if route.name == "mlflow:registered-model-create":
            params["name"] = f"matrix-new-{persona}"
        if route.name == "mlflow:registered-model-alias" and method == "POST":
            params["alias"] = "matrix-new"  # a fresh alias rather than the world's
        if method == "GET":
            kwargs["data"] = params
        else:
            kwargs["data"] = json.dumps(params)
            kwargs["content_type"] = "application/json"
    elif route.kind == "api" and method not in ("GET", "DELETE"):
        body = API_BODIES.get(route.name, {})
        kwargs["data"] = json.dumps(body(world) if callable(body) else body)
        kwargs["content_type"] = "application/json"
    elif method == "POST":
        kwargs["data"] = PORTAL_BODIES[route.name](world) if route.name in PORTAL_BODIES else {}
    return getattr(client, method.lower())(url, **kwargs)


def _is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def _verdict(route, method, persona, permitted, response, changed, refused_by_role):
    status = response.status_code
    if status >= 500:
        return f"{status} (server error)"
    if permitted:
        # Logging out lands on the login page: that is its success.
        if status in (401, 403, 404, 405) or (_is_login_redirect(response) and route.name != "logout"):
            return f"refused with {status} but the policy permits it"
        return None
    if changed:
        return f"refused with {status} but changed {changed}"
    if route.name == "mlflow:registered-model-create" and status == 400 and persona in ("approver", "risk", "auditor"):
        return None  # "You belong to no team": roles without a team own no models
    if route.kind in ("api", "mlflow") and persona in (ANON, REVOKED):
        return None if status == 401 else f"{status} for {persona} (expected 401)"
    if route.kind in ("portal", "admin") and persona in (ANON, REVOKED):
        if route.kind == "admin":
            return None if status == 302 and "/login/" in response["Location"] else f"{status} (expected a login redirect)"
        return None if _is_login_redirect(response) or status == 405 else f"{status} (expected a login redirect)"
    if route.kind == "admin":  # signed in without staff status: the admin's own login page
        return None if status == 302 and "/admin/login/" in response["Location"] else f"{status} (expected the admin login)"
    if route.kind == "portal" and method == "POST" and status == 302:
        # Portal forms refuse by redirecting back with the reason as a message; nothing changed (checked above).
        return None
    if persona == "outsider" and team_of_url(route) and not refused_by_role and status != 405:
        return None if status == 404 else f"{status} for another team's object (expected 404)"
    return None if status in (401, 403, 404, 405) else f"{status} but the policy refuses it"


@pytest.fixture
def world(ds_owner, mle_teammate, outsider, approver, risk, auditor, admin_user, team_credit, settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "artifacts")}},
    }
    from django.core.files.storage import storages

    storages._storages = {}
    users = {"ds_owner": ds_owner, "mle_teammate": mle_teammate, "outsider": outsider, "approver": approver,
             "risk": risk, "auditor": auditor, "admin_user": admin_user}
    w = build_world(ds_owner=ds_owner, mle_teammate=mle_teammate, admin_user=admin_user, team_credit=team_credit)
    w.tokens = personal_tokens(users)
    w.objects["token"] = w.tokens["ds_owner"][0]
    w.users = users
    yield w
    storages._storages = {}


def _clients(world, kind):
    clients = {ANON: Client()}
    if kind in ("api", "mlflow"):
        for persona, (_, raw) in world.tokens.items():
            clients[persona] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    else:
        clients[REVOKED] = Client(HTTP_AUTHORIZATION=f"Bearer {world.tokens[REVOKED][1]}")
        for persona, user in world.users.items():
            client = Client()
            client.force_login(user)
            clients[persona] = client
    return clients


def test_it_has_a_policy_for_every_route():
    problems = []
    for route in routes():
        row = POLICY.get(route.name)
        if row is None:
            problems.append(f"{route.name}: no policy row")
            continue
        if route.methods is not None and set(row) != set(route.methods):
            problems.append(f"{route.name}: serves {sorted(route.methods)}, policy names {sorted(row)}")
    served = {r.name for r in routes()}
    problems += [f"{name}: policy row for a route that does not exist" for name in POLICY if name not in served]
    assert not problems, "\n".join(problems)


def test_it_enforces_the_policy_for_every_route_method_and_persona(world):
    failures, observed = [], {}
    clients = {kind: _clients(world, kind) for kind in ("api", "mlflow", "portal", "admin", "public")}
    for route in routes():
        url = url_for(route, world) + QUERIES.get(route.name, "")
        methods = route.methods or tuple(POLICY.get(route.name, {}))
        for method in methods:
            allowed = POLICY.get(route.name, {}).get(method)
            refused_by_role = allowed is not None and "ds_owner" not in allowed
            for persona in PERSONAS:
                client = clients[route.kind][persona]
                with transaction.atomic():
                    before = _counts() if method not in ("GET", "HEAD") else None
                    response = _request(client, route, url, method, persona, world)
                    after = _counts() if before is not None else None
                    transaction.set_rollback(True)
                status = response.status_code
                if RESULTS_FILE and status == 400:
                    status = f"400:{response.content[:80]!r}"
                observed.setdefault((route.name, method), {})[persona] = status
                if allowed is None:
                    continue
                changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]} if before else {}
                permitted = persona in allowed
                problem = _verdict(route, method, persona, permitted, response, changed, refused_by_role)
                if problem:
                    failures.append(f"{method} {url} [{route.name}] as {persona}: {problem}")
    if RESULTS_FILE:
        with open(RESULTS_FILE, "w") as handle:
            for (name, method), statuses in sorted(observed.items()):
                handle.write(f"{name} {method} " + " ".join(f"{p}={s}" for p, s in statuses.items()) + "\n")
    assert not failures, f"{len(failures)} authorization mismatches:\n" + "\n".join(failures)
