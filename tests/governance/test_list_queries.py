"""Lists cost a fixed number of queries, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import Approval, CITestResult, Deployment, DeploymentSplit, Environment, PromotionRequest
from tests.conftest import api_for

pytestmark = pytest.mark.django_db


def _rows(n, user, version, approver):
    env = Environment.objects.get(slug="uat")
    # Closed requests: at most one open request per version and environment exists.
    reqs = PromotionRequest.objects.bulk_create(
        [PromotionRequest(version=version, environment=env, requested_by=user, state="deployed") for _ in range(n)]
    )
    Approval.objects.bulk_create([Approval(request=r, user=approver, role="ml_engineer", decision="approved", comment="ok")
                                  for r in reqs])
    deps = Deployment.objects.bulk_create(
        [Deployment(environment=env, registered_model=version.registered_model, status="superseded", deployed_by=user)
         for _ in range(n)]
    )
    DeploymentSplit.objects.bulk_create([DeploymentSplit(deployment=d, version=version, weight=100) for d in deps])
    CITestResult.objects.bulk_create([CITestResult(version=version, kind="unit", passed=True, posted_by=user) for _ in range(n)])


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"limit": 500})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("url", ["/api/v1/promotion-requests/", "/api/v1/deployments/", "/api/v1/ci-test-results/"])
def test_it_lists_with_the_same_number_of_queries_at_5_and_500_rows(ds_owner, mle_teammate, version, url):
    client = api_for(ds_owner)
    client.get(url)  # warm the per-user caches outside the measurement
    _rows(5, ds_owner, version, mle_teammate)
    small, n_small = _count(api_for(ds_owner), url)
    _rows(495, ds_owner, version, mle_teammate)
    large, n_large = _count(api_for(ds_owner), url)
    assert (n_small, n_large) == (5, 500)
    assert small == large
    # The token (with its user; roles and permissions come from the cache), then the page
    # (select_related joins; the object-permission check is a subquery inside it) and the
    # prefetch of approvals / splits (CI results have none).
    own = {"promotion-requests": 4, "deployments": 4, "ci-test-results": 3}[url.split("/")[3]]
    assert large == own


def test_it_serves_the_inbox_in_constant_queries(ds_owner, mle_teammate, version, django_assert_max_num_queries):
    from registry.models import ModelVersion

    model = version.registered_model
    versions = ModelVersion.objects.bulk_create(
        [ModelVersion(registered_model=model, version=100 + i, status="ready") for i in range(50)]
    )
    env = Environment.objects.get(slug="uat")
    reqs = PromotionRequest.objects.bulk_create(
        [PromotionRequest(version=v, environment=env, requested_by=ds_owner, state="pending") for v in versions]
    )
    Approval.objects.bulk_create([Approval(request=r, user=mle_teammate, role="ml_engineer", decision="approved", comment="ok")
                                  for r in reqs])
    from governance.selectors import inbox_for_user
    from modelgate.core import roles
    from tests.factories import UserFactory

    other_mle = UserFactory(username="max", roles=[roles.ML_ENGINEER], teams=[mle_teammate.groups.get(name__startswith="team:").team])
    # Roles (1), tier requirements (1), environments (1), requests with their joins (1), approvals
    # prefetch (1), the models' inventory records (1), guardian perms (≤2).
    with django_assert_max_num_queries(9):
        inbox = inbox_for_user(other_mle)
    assert inbox == []  # the ML engineer role is already filled on each
