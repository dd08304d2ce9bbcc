"""Rule evaluation as beat runs it (one round per minute): Prometheus pending → firing,
keep_firing_for, one alert per episode, automatic resolution, SRE burn-rate rules."""

from datetime import timedelta

import pytest

from monitoring.telemetry import services
from monitoring.telemetry.choices import AlertState, RuleState
from monitoring.telemetry.models import Alert, SlaRule
from tests.telemetry.helpers import base_minute, post_minute

pytestmark = pytest.mark.django_db


def _burn_rule(deployment, owner, **fields):
    return services.sla_rule_create(user=owner, deployment=deployment, name="availability 99.9%", kind="burn_rate",
                                    metric="error_rate", threshold=0, objective=0.999, burn_policy="page", **fields)


def _rule(deployment, owner, **fields):
    defaults = {"name": "p95 under 100 ms", "metric": "latency_p95", "threshold": 100.0, "window_minutes": 5,
                "for_count": 3, "severity": "critical", "runbook_url": "https://runbooks.example/latency"}
    return services.sla_rule_create(user=owner, deployment=deployment, **{**defaults, **fields})


def _minute(user, deployment, rule, minute, **traffic):
    """Post one minute of traffic, then run the evaluation round at the end of that minute."""
    post_minute(user, deployment, minute, **traffic)
    services.evaluate_rules(now=minute + timedelta(minutes=1))
    rule.refresh_from_db()
    return rule


def test_it_opens_one_alert_after_n_breaches_and_resolves_after_recovery(
    ds_owner, deployment, mailoutbox, django_capture_on_commit_callbacks
):
    rule = _rule(deployment, ds_owner)
    t0 = base_minute(60)
    # E-mails go out on commit: the callbacks run when this block ends, as a real commit would.
    run_on_commit = django_capture_on_commit_callbacks(execute=True)
    run_on_commit.__enter__()
    for k in range(5):
        _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=k), latency_ms=30)
        assert rule.state == RuleState.INACTIVE
    # Latency regression: every request takes 400 ms.
    states = []
    for k in range(5, 12):
        _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=k), latency_ms=400)
        states.append(rule.state)
    assert states[:3] == [RuleState.PENDING, RuleState.PENDING, RuleState.FIRING]
    assert set(states[3:]) == {RuleState.FIRING}
    alert = Alert.objects.get()  # exactly one, however many evaluations breached
    assert alert.state == AlertState.OPEN and alert.severity == "critical"
    assert alert.value_at_open > 100
    # Recovery: the 5-minute window still holds slow minutes for four evaluations.
    for k in range(12, 16):
        _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=k), latency_ms=30)
        assert rule.state == RuleState.FIRING
    _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=16), latency_ms=30)
    assert rule.state == RuleState.INACTIVE
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by is None and "Recovered" in alert.resolution
    assert Alert.objects.count() == 1
    run_on_commit.__exit__(None, None, None)
    assert [m.to for m in mailoutbox] == [[ds_owner.email], [ds_owner.email]]  # opened, resolved
    assert "opened" in mailoutbox[0].subject and "runbooks.example/latency" in mailoutbox[0].body
    assert "resolved" in mailoutbox[1].subject


def test_it_does_not_count_a_repeated_beat_tick_twice(ds_owner, deployment):
    rule = _rule(deployment, ds_owner, for_count=2)
    t = base_minute(30)
    post_minute(ds_owner, deployment, t, latency_ms=400)
    for _ in range(3):
        services.evaluate_rules(now=t + timedelta(minutes=1, seconds=20))
    rule.refresh_from_db()
    assert (rule.state, rule.consecutive_breaches) == (RuleState.PENDING, 1)
    assert not Alert.objects.exists()


def test_it_keeps_firing_through_a_short_dip(ds_owner, deployment):
    rule = _rule(deployment, ds_owner, window_minutes=1, for_count=1, keep_firing_for_minutes=3)
    t0 = base_minute(40)
    pattern = [400, 30, 400, 30, 30, 30, 30]
    seen = [_minute(ds_owner, deployment, rule, t0 + timedelta(minutes=k), latency_ms=ms).state for k, ms in enumerate(pattern)]
    assert seen == [RuleState.FIRING] * 5 + [RuleState.INACTIVE] * 2
    assert Alert.objects.count() == 1
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_it_opens_no_second_alert_when_resolved_by_hand_mid_episode(ds_owner, deployment):
    rule = _rule(deployment, ds_owner, window_minutes=1, for_count=1)
    t0 = base_minute(40)
    _minute(ds_owner, deployment, rule, t0, latency_ms=400)
    services.alert_resolve(user=ds_owner, alert=Alert.objects.get(), resolution="Rolled back the feature flag.")
    _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=1), latency_ms=400)
    assert Alert.objects.count() == 1
    _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=2), latency_ms=30)  # episode ends
    _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=3), latency_ms=400)  # a new episode
    assert Alert.objects.count() == 2


def test_it_treats_no_data_as_no_breach_but_a_throughput_floor_breaches(ds_owner, deployment):
    latency = _rule(deployment, ds_owner, window_minutes=5, for_count=1)
    floor = _rule(deployment, ds_owner, name="at least 10/min", metric="throughput", threshold=10, for_count=2)
    t = base_minute(20)
    services.evaluate_rules(now=t)
    services.evaluate_rules(now=t + timedelta(minutes=1))
    latency.refresh_from_db()
    floor.refresh_from_db()
    assert latency.state == RuleState.INACTIVE and latency.last_value is None
    assert floor.state == RuleState.FIRING and floor.last_value == 0
    assert Alert.objects.get().rule == floor


def test_it_pages_on_a_fast_error_budget_burn(ds_owner, deployment):
    rule = _burn_rule(deployment, ds_owner)
    assert rule.for_count == 1  # the two windows debounce
    t0 = base_minute(70)
    for k in range(60):
        post_minute(ds_owner, deployment, t0 + timedelta(minutes=k), n=50, errors=1)  # 2 % errors: burn 20×
    services.evaluate_rules(now=t0 + timedelta(minutes=60))
    rule.refresh_from_db()
    assert rule.state == RuleState.FIRING
    assert rule.last_value == pytest.approx(20, rel=0.01)
    assert Alert.objects.filter(rule=rule, state=AlertState.OPEN).count() == 1


def test_it_does_not_page_when_only_the_long_window_burns(ds_owner, deployment):
    rule = _burn_rule(deployment, ds_owner)
    t0 = base_minute(70)
    for k in range(60):
        # Errors stopped half an hour ago: the 1 h and 6 h windows still burn, the 5 and 30 min windows do not.
        post_minute(ds_owner, deployment, t0 + timedelta(minutes=k), n=50, errors=3 if k < 30 else 0)
    services.evaluate_rules(now=t0 + timedelta(minutes=60))
    rule.refresh_from_db()
    assert rule.state == RuleState.INACTIVE
    assert rule.last_value > 14.4


def test_it_resolves_the_episode_when_the_rule_is_switched_off(ds_owner, deployment):
    rule = _rule(deployment, ds_owner, window_minutes=1, for_count=1)
    t0 = base_minute(20)
    _minute(ds_owner, deployment, rule, t0, latency_ms=400)
    services.sla_rule_update(user=ds_owner, rule=rule, data={"is_active": False})
    services.evaluate_rules(now=t0 + timedelta(minutes=2))
    assert Alert.objects.get().state == AlertState.RESOLVED
    assert SlaRule.objects.get().episode_alert is None


def test_it_rejects_an_incomplete_burn_rate_rule(ds_owner, deployment):
    from modelgate.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        _rule(deployment, ds_owner, kind="burn_rate", metric="throughput", objective=1.5)
    assert {"metric", "objective", "burn_policy"} <= set(exc.value.fields)


def test_it_writes_a_signed_webhook_delivery_to_the_outbox_when_an_alert_opens_and_resolves(
    ds_owner, admin_user, deployment, settings
):
    from governance.models import WebhookDelivery
    from governance.services import webhook_create

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    webhook_create(user=admin_user, name="pager", url="https://93.184.216.34/modelgate",  # public literal; only the outbox row is written
                   events=["alert.opened", "alert.resolved"])
    rule = _rule(deployment, ds_owner, for_count=1, window_minutes=1)
    t0 = base_minute(30)
    _minute(ds_owner, deployment, rule, t0, latency_ms=400)
    assert rule.state == RuleState.FIRING
    opened = WebhookDelivery.objects.get(event="alert.opened")
    assert opened.payload["data"]["rule"] == "p95 under 100 ms" if "data" in opened.payload else opened.payload
    for k in range(1, 4):
        _minute(ds_owner, deployment, rule, t0 + timedelta(minutes=k), latency_ms=30)
    assert WebhookDelivery.objects.filter(event="alert.resolved").count() == 1
