"""Realistic demo telemetry: diurnal traffic, log-normal latency, a few errors,
a binary classifier's scores with delayed labels — and a latency regression in
the last minutes that trips the p95 SLA alert.

    python manage.py generate_telemetry                 # every active Prod deployment, last 6 hours
    python manage.py generate_telemetry --deployment 3 --hours 24 --per-minute 300

Goes through the same services as the API (validation, idempotent storage,
rollups) and replays the per-minute rule evaluation, so alerts open exactly as
beat would open them. Standard library only.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from governance.choices import DeploymentStatus
from governance.models import Deployment
from modelgate.core import roles
from modelgate.core.context import actor_context
from monitoring.telemetry import services
from monitoring.telemetry.models import SlaRule

DEFAULT_RULES = [
    {"name": "p95 latency ≤ 250 ms", "metric": "latency_p95", "threshold": 250, "window_minutes": 5, "for_count": 3,
     "keep_firing_for_minutes": 5, "severity": "critical",
     "runbook": "Check the serving pods' CPU and the feature store latency; roll back the last deployment if it started then."},
    {"name": "error rate ≤ 2 %", "metric": "error_rate", "threshold": 0.02, "window_minutes": 10, "for_count": 3,
     "severity": "warning", "runbook": "Look at the serving logs for the failing requests."},
    {"name": "availability 99.5 % (page)", "kind": "burn_rate", "metric": "error_rate", "threshold": 0, "objective": 0.995,
     "burn_policy": "page", "severity": "critical", "runbook": "Error budget burning fast: page the on-call."},
    {"name": "accuracy ≥ 0.80", "metric": "accuracy", "threshold": 0.8, "window_minutes": 24 * 60, "for_count": 1,
     "min_events": 50, "severity": "warning", "runbook": "Quality dropped on labelled traffic: open a retraining ticket."},
    {"name": "fresh data (≤ 10 min)", "metric": "freshness", "threshold": 600, "for_count": 2, "severity": "warning",
     "runbook": "The serving system stopped posting telemetry: check its telemetry client."},
    {"name": "score drift PSI ≤ 0.2", "metric": "drift_psi", "threshold": 0.2, "window_minutes": 60, "for_count": 3,
     "min_events": 200, "severity": "info"},
]


class Command(BaseCommand):
    help = "Generate realistic demo telemetry (with a latency regression that trips an alert)."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", type=int, action="append", help="Deployment id (repeatable). Default: active Prod ones.")
        parser.add_argument("--hours", type=float, default=6.0, help="History to generate, up to the raw retention.")
        parser.add_argument("--per-minute", type=int, default=120, help="Average events per minute.")
        parser.add_argument("--regression-minutes", type=int, default=12,
                            help="Latency regression over the last N minutes (0: none).")
        parser.add_argument("--label-fraction", type=float, default=0.7, help="Share of events older than 1 h that get a label.")
        parser.add_argument("--user", help="Acting user (default: an administrator).")
        parser.add_argument("--no-rules", action="store_true", help="Do not add the default SLA rules.")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **opts):
        user = self._user(opts["user"])
        deployments = self._deployments(user, opts["deployment"])
        now = timezone.now().replace(second=0, microsecond=0)
        hours = min(opts["hours"], services.raw_retention().total_seconds() / 3600 - 1)
        start = now - timedelta(hours=hours)
        with actor_context(source="command", user=user):
            for deployment in deployments:
                if not opts["no_rules"] and not SlaRule.objects.filter(deployment=deployment).exists():
                    for rule in DEFAULT_RULES:
                        services.sla_rule_create(user=user, deployment=deployment, **rule)
                stats = self._generate(deployment, user, start, now, opts)
                # Replay beat's per-minute evaluation over the recent minutes so rule states and alerts are real.
                replay_from = now - timedelta(minutes=max(opts["regression_minutes"], 0) + 15)
                minute = replay_from
                while minute <= now:
                    services.evaluate_rules(now=minute)
                    minute += timedelta(minutes=1)
                self.stdout.write(
                    f"{deployment}: {stats['events']} events, {stats['labels']} labels "
                    f"({opts['regression_minutes']} min latency regression at the end)"
                )
        self.stdout.write(self.style.SUCCESS("Telemetry generated; see /monitoring/sla/."))

    def _user(self, username):
        User = get_user_model()
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {username!r}.")
            return user
        user = User.objects.filter(Q(is_superuser=True) | Q(groups__name=roles.ADMIN), is_active=True).order_by("id").first()
        if user is None:
            raise CommandError("No administrator exists: pass --user, or run `manage.py seed_demo` first.")
        return user

    def _deployments(self, user, ids):
        active = Deployment.objects.filter(status=DeploymentStatus.ACTIVE).select_related("registered_model", "environment")
        if ids:
            found = list(active.filter(pk__in=ids))
            if len(found) != len(set(ids)):
                raise CommandError(f"Not active deployments: {sorted(set(ids) - {d.pk for d in found})}.")
            return found
        found = list(active.filter(environment__slug="prod")) or list(active)
        if not found:
            raise CommandError("No active deployment: deploy a model first (`manage.py seed_demo` deploys the demo models).")
        return found

    def _generate(self, deployment, user, start, now, opts) -> dict:
        splits = list(deployment.splits.select_related("version").order_by("-weight"))
        versions = [s.version.version for s in splits]
        weights = [s.weight for s in splits]
        newest = max(versions)
        regression_from = now - timedelta(minutes=opts["regression_minutes"]) if opts["regression_minutes"] > 0 else None
        prefix = f"demo-{deployment.pk}-"
        batch, labels = [], []
        stored = 0
        minute = start
        while minute < now:
            hour = minute.hour + minute.minute / 60
            # One generator per minute, seeded by the event ids' prefix and minute: an event id always stands
            # for the same event, however far the clock moved between two runs (idempotent storage keeps the
            # first copy, so a run whose draws shifted would pair old events with new labels).
            rng = random.Random(f"{opts['seed']}:{prefix}{minute:%Y%m%d%H%M}")
            # Diurnal traffic: busier in the (UTC) afternoon, quiet at night.
            rate = opts["per_minute"] * (1 + 0.3 * math.sin((hour - 8) / 24 * 2 * math.pi))
            for i in range(max(int(rng.gauss(rate, math.sqrt(rate))), 0)):
                version = rng.choices(versions, weights)[0]
                income = round(rng.lognormvariate(10.8, 0.5))
                age = rng.randint(18, 80)
                channel = rng.choices(["web", "branch", "phone"], [6, 3, 1])[0]
                logit = -4.2 + 0.00004 * income + 0.02 * age + (0.4 if channel == "web" else 0)
                score = 1 / (1 + math.exp(-logit + rng.gauss(0, 0.3)))
                latency = rng.lognormvariate(math.log(38 if version == newest else 42), 0.35)
                if regression_from and minute >= regression_from:
                    latency *= 9  # the regression: a slow dependency after a config change
                status = "error" if rng.random() < 0.004 else "ok"
                # Drawn for every event, labelled or not, so whether this run labels it leaves later draws alone.
                labelled, label_is_right = rng.random() < opts["label_fraction"], rng.random() < 0.85
                event_id = f"{prefix}{minute:%Y%m%d%H%M}-{i}"
                batch.append({
                    "event_id": event_id, "timestamp": (minute + timedelta(seconds=rng.random() * 59.9)).isoformat(),
                    "version": version, "latency_ms": round(latency, 2), "status": status,
                    "prediction": int(score >= 0.5), "score": round(score, 4),
                    "features": {"income": income, "age": age, "channel": channel},
                })
                if now - minute > timedelta(hours=1) and labelled:
                    # Realised outcome: the model is right about 85 % of the time.
                    actual = int(score >= 0.5) if label_is_right else 1 - int(score >= 0.5)
                    labels.append({"event_id": event_id, "label": actual})
                if len(batch) >= services.MAX_BATCH:
                    stored += services.events_ingest(user=user, events=batch, deployment=deployment.pk)["stored"]
                    batch = []
            minute += timedelta(minutes=1)
        if batch:
            stored += services.events_ingest(user=user, events=batch, deployment=deployment.pk)["stored"]
        for i in range(0, len(labels), services.MAX_BATCH):
            services.ground_truth_ingest(user=user, labels=labels[i : i + services.MAX_BATCH], deployment=deployment.pk)
        services.rollup_pending()
        return {"events": stored, "labels": len(labels)}
