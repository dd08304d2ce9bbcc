"""Lineage graph: upstream and downstream to a bounded depth, visibility, fixed queries."""

import pytest

from registry import selectors, services
from tests.conftest import api_for
from tests.registry.factories import make_model, make_version


def chain(user, model, length):
    versions = [make_version(user, model)]
    for _ in range(length - 1):
        versions.append(make_version(user, model, parents=[(versions[-1], "retrain")]))
    return versions


def test_it_returns_upstream_and_downstream_with_datasets_and_runs(ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    dataset = services.dataset_create(user=ds_owner, name="loans", team=team_credit)
    dv = services.datasetversion_create(user=ds_owner, dataset=dataset, version="2024-06")
    run = services.trainingrun_create(user=ds_owner, team=team_credit, external_id="run-7")
    v1 = make_version(ds_owner, model, trained_on=[dv], training_run=run)
    v2 = make_version(ds_owner, model, parents=[(v1, "retrain")])
    tuned = make_model(ds_owner, team_credit, "tuned")
    make_version(ds_owner, tuned, parents=[(v2, "fine_tune")])
    body = api_for(ds_owner).get("/api/v1/models/credit-scorer/versions/2/lineage/").json()
    levels = {(n["model"], n["version"]): n["level"] for n in body["nodes"]}
    assert levels == {("credit-scorer", 1): -1, ("credit-scorer", 2): 0, ("tuned", 1): 1}
    first = next(n for n in body["nodes"] if n["level"] == -1)
    assert first["trained_on"][0]["dataset"] == "loans" and first["training_run"] == "run-7"
    assert {(e["child"]["model"], e["parent"]["version"], e["relation"]) for e in body["edges"]} == {
        ("credit-scorer", 1, "retrain"), ("tuned", 2, "fine_tune"),
    }


def test_it_bounds_the_depth(ds_owner, team_credit):
    versions = chain(ds_owner, make_model(ds_owner, team_credit), 6)
    graph = selectors.lineage_graph(user=ds_owner, version=versions[-1], depth=2)
    assert sorted(n["level"] for n in graph["nodes"]) == [-2, -1, 0]
    huge = selectors.lineage_graph(user=ds_owner, version=versions[-1], depth=1000)
    assert huge["depth"] == selectors.MAX_LINEAGE_DEPTH and len(huge["nodes"]) == 6


def test_it_hides_other_teams_versions_in_the_graph(ds_owner, outsider, team_credit, team_fraud):
    theirs = make_version(outsider, make_model(outsider, team_fraud, "fraud-base"))
    share_model = make_model(outsider, team_fraud, "fraud-shared")
    shared = make_version(outsider, share_model, parents=[theirs])
    services.registered_model_share(user=outsider, model=share_model, team=team_credit)
    mine = make_version(ds_owner, make_model(ds_owner, team_credit), parents=[shared])
    graph = selectors.lineage_graph(user=ds_owner, version=mine, depth=3)
    names = {n["version"].registered_model.name for n in graph["nodes"]}
    assert names == {"credit-scorer", "fraud-shared"}
    assert graph["hidden"] == 1  # fraud-base v1 is upstream but private to fraud: counted, never named
    assert all(edge["parent_id"] != theirs.pk for edge in graph["edges"])


@pytest.mark.parametrize("length", [3, 9])
def test_it_uses_a_fixed_number_of_queries_whatever_the_depth(ds_owner, team_credit, django_assert_num_queries, length):
    versions = chain(ds_owner, make_model(ds_owner, team_credit), length)
    # 1 recursive walk, 1 visible nodes (restrict subquery inline), 1 trained_on prefetch, 1 edges;
    # restrict() reads the user's roles and permissions from the cache (no query).
    fresh_user = ds_owner.__class__.objects.get(pk=ds_owner.pk)  # no cached roles or permissions
    with django_assert_num_queries(4):
        graph = selectors.lineage_graph(user=fresh_user, version=versions[-1], depth=10)
    assert len(graph["nodes"]) == length


def test_the_walk_ends_on_a_cycle_and_keeps_the_upstream_level(ds_owner, team_credit):
    from registry.models import VersionParent

    a, b, c = chain(ds_owner, make_model(ds_owner, team_credit), 3)
    VersionParent.objects.create(child=a, parent=c, relation="retrain")  # a cycle: a → b → c → a
    assert selectors.lineage_walk(b.pk, 5) == {b.pk: 0, a.pk: -1, c.pk: -2}
    assert selectors.lineage_walk(b.pk, 1) == {b.pk: 0, a.pk: -1, c.pk: 1}
