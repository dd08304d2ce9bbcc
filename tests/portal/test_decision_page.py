"""The approver's decision page: the summary in words, warnings that are not gates, the
candidate side by side with the version serving in the target environment, evidence as
tables with links to the report or CI result each gate read."""

import re

import pytest

from governance import decision
from governance import services as gov
from tests.portal.conftest import client_for, decision_scenario, environments, report_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(ds_owner, mle_teammate, approver, risk, team_credit):
    return decision_scenario(ds_owner, mle_teammate, approver, risk, team_credit)


def _section(html, element_id):
    match = re.search(rf'<(section|table)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert match, element_id
    return match.group(0)


def test_it_says_in_words_what_changes_for_whom_and_each_gates_verdict(approver, scenario):
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    summary = _section(html, "decision-summary")
    assert "credit-scoring v2 replaces v1 in Prod, 100 % of traffic." in summary
    assert "Everyone calling credit-scoring in Prod" in summary and "Credit" in summary
    assert "All 7 gates pass." in summary
    assert summary.count('class="verdict-pass"') == 7 and "Latency acceptance test (p95) passes</a>: passes" in summary


def test_it_lists_the_warnings_that_are_not_gates(approver, scenario):
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    warnings = _section(html, "decision-warnings")
    assert 'data-topic="Drift"' in warnings and "The drift report warns: income has drifted" in warnings
    assert f"/monitoring/reports/{scenario['v2'].reports.get(kind='drift').pk}/" in warnings
    assert "v2 has no model card." in warnings
    assert "Open alert in Prod: p95 latency 312 ms &gt; 200 ms (open since" in warnings


def test_it_warns_of_the_candidates_unresolved_validation_findings_until_they_are_resolved(approver, ds_owner, risk, scenario):
    from governance.modelrisk import services as mr
    from governance.modelrisk.models import Finding
    from governance.roles import MODEL_VALIDATOR
    from tests.factories import UserFactory
    from tests.modelrisk.conftest import in_days, signed_validation

    url = f"/governance/requests/{scenario['request'].pk}/"
    assert "Validation findings" not in _section(client_for(approver).get(url).content.decode(), "decision-warnings")
    validator = UserFactory(username="val", roles=[MODEL_VALIDATOR])
    validation = signed_validation(validator, scenario["v2"])
    high = mr.finding_create(user=validator, validation=validation, title="Back-test window too short", severity="high",
                             description="Only 6 months", owner=ds_owner, due_date=in_days(10))
    low = mr.finding_create(user=validator, validation=validation, title="Typo in the model card", severity="low",
                            description="minor", owner=ds_owner, due_date=in_days(3))
    Finding.objects.filter(pk=high.pk).update(due_date=in_days(-2))  # time passes: the high one is past due

    warnings = _section(client_for(approver).get(url).content.decode(), "decision-warnings")
    assert ("<strong>Validation findings:</strong> 2 unresolved findings on v2 (1 high, 1 low), 1 past due. "
            f"Due first: “Back-test window too short” (high, open) on {in_days(-2):%Y-%m-%d}.") in warnings
    assert '/governance/model-risk/models/credit-scoring/#findings-title' in warnings

    mr.finding_submit_remediation(user=ds_owner, finding=high, remediation="Extended to 24 months")
    mr.finding_close(user=validator, finding=high, comment="Checked")
    mr.finding_accept_risk(user=risk, finding=low, reason="Cosmetic", expires=in_days(30))
    assert "Validation findings" not in _section(client_for(approver).get(url).content.decode(), "decision-warnings")


def test_it_warns_when_the_model_cards_considerations_are_empty(approver, ds_owner, scenario):
    from monitoring.services import reports as report_services

    report_services.modelcard_generate(user=ds_owner, version=scenario["v2"])
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    assert "The model card&#x27;s considerations are empty" in _section(html, "decision-warnings")
    card = scenario["v2"].model_card
    report_services.modelcard_update(user=ds_owner, card=card, authored={"considerations": {"limitations": [{"description": "Not for SMEs"}]}})
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    assert "Model card" not in _section(html, "decision-warnings")


def test_it_warns_when_a_report_was_computed_on_another_dataset_than_the_gates_read(approver, ds_owner, admin_user, scenario):
    from monitoring.services import reports as report_services
    from tests.portal.conftest import drift_reference_csv, fairness_csv

    prod = environments()["prod"]
    gov.environment_update_policy(user=admin_user, environment=prod,
                                  data={"gates": [*prod.gates, {"kind": "fairness_report_passes", "params": {}}]})
    v2 = scenario["v2"]
    other = report_services.evaluationdataset_attach(
        user=ds_owner, version=v2, name="holdout-2025", feature_columns=["income", "age_band", "existing_loans"],
        label_column="approved", prediction_column="pred", sensitive_columns=["gender"], chunks=[fairness_csv(300)],
        reference_chunks=[drift_reference_csv()],
    )
    drift = report_now(ds_owner, v2, other, "drift")  # newer than the holdout's drift report
    gov.promotion_request_cancel(user=ds_owner, request=scenario["request"])  # resubmitted under the new policy
    req = gov.promotion_request_create(user=ds_owner, version=v2, environment=prod, reason="With the fairness gate")
    gov.promotion_request_submit(user=ds_owner, request=req)
    html = client_for(approver).get(f"/governance/requests/{req.pk}/").content.decode()
    warnings = _section(html, "decision-warnings")
    assert 'data-topic="Datasets"' in warnings
    assert "The drift report was computed on dataset “holdout-2025”" in warnings and f"/monitoring/reports/{drift.pk}/" in warnings
    assert "fairness report was computed" not in warnings  # the gate read the fairness report's own dataset


def test_it_puts_the_candidate_beside_the_version_serving_in_prod_with_better_and_worse_marked(approver, scenario):
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    table = _section(html, "comparison-table")
    assert "Candidate v2" in table and "Now in Prod: v1" in table
    auc = re.search(r'<tr data-row="auc">(.*?)</tr>', table, re.S).group(1)
    assert '<td class="cmp-better">0.870 <small>(better)</small></td>' in auc
    assert '<td class="cmp-worse">0.840</td>' in auc and "+0.030" in auc
    accuracy = re.search(r'<tr data-row="accuracy">(.*?)</tr>', table, re.S).group(1)
    assert '<td class="cmp-worse">0.890 <small>(worse)</small></td>' in accuracy and "−0.010" in accuracy
    latency = re.search(r'<tr data-row="p95 latency \(CI acceptance test\)">(.*?)</tr>', table, re.S).group(1)
    assert "38 ms" in latency and "45 ms" in latency and "−7 ms" in latency and "cmp-better" in latency
    assert "Fairness: selection-rate ratio" in table and 'data-row="gender = female"' in table
    drift = re.search(r'<tr data-row="Drift report verdict">(.*?)</tr>', table, re.S).group(1)
    assert "warns (" in drift and "UTC)" in drift and "no report" in drift


def test_it_shows_evidence_as_tables_linked_to_the_ci_results_the_gates_read(approver, scenario):
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    gates = html[html.index('id="gate-list"'):]
    latency = re.search(r'data-gate="latency_acceptance".*?</li>', gates, re.S).group(0)
    assert 'class="gate-source"' in latency and "CI acceptance test result #" in latency and "(run ci-2)" in latency
    ci = re.search(r'data-gate="ci_test_results".*?</li>', gates, re.S).group(0)
    assert '<table class="compact evidence-table"><caption>Unit</caption>' not in ci  # one row per kind, not a dict
    assert "<th scope=\"row\">unit</th>" in ci and "<th scope=\"row\">acceptance</th>" in ci
    assert "{&#x27;" not in gates and "{'" not in gates  # no Python dict anywhere in the evidence


def test_it_compares_with_nothing_when_the_environment_is_empty(approver, prod_request):
    _, _, req = prod_request
    html = client_for(approver).get(f"/governance/requests/{req.pk}/").content.decode()
    assert "credit-scoring v1 becomes the first version of credit-scoring in Prod, with 100 % of traffic." in html
    assert "Nothing of credit-scoring serves in Prod yet" in html


def test_a_registered_warning_provider_is_shown_like_monitorings(approver, prod_request):
    """The hook another app (model risk's open validation findings) fills in its ready()."""

    def findings(d):
        return [decision.DecisionWarning("Validation findings", f"2 open findings on v{d.candidate.version}.", "/risk/", "findings")]

    decision.register_decision_warning("test.findings", findings)
    try:
        html = client_for(approver).get(f"/governance/requests/{prod_request[2].pk}/").content.decode()
    finally:
        decision.DECISION_WARNINGS.unregister("test.findings")
    assert "<strong>Validation findings:</strong> 2 open findings on v1." in html


def test_it_keeps_other_teams_requests_out_of_reach(outsider, scenario):
    assert client_for(outsider).get(f"/governance/requests/{scenario['request'].pk}/").status_code == 404
