"""Every write of SLA monitoring: telemetry ingestion, ground truth, rollups,
rule evaluation and the alert state machine, SLA rule and data-test CRUD,
retention.

Telemetry rows are the data plane (tens of thousands a second): they are not
written to the audit trail, which records the control plane (rules, data tests,
alerts opened, acknowledged and resolved).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Floor, Least, Ln, TruncMinute
from django.utils import timezone

from governance.choices import DeploymentStatus
from governance.models import Deployment, DeploymentSplit
from modelgate.core import audit, roles
from modelgate.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from modelgate.core.permissions import has_action_perm, restrict
from monitoring.telemetry.choices import (
    ALERT_TRANSITIONS,
    BURN_WINDOWS,
    QUALITY_METRICS,
    AlertState,
    DataTestKind,
    EventStatus,
    Metric,
    RuleKind,
    RuleState,
    ValueType,
)
from monitoring.telemetry.histogram import (
    LATENCY_BUCKETS,
    LATENCY_GROWTH,
    LATENCY_MIN_MS,
    SCORE_BINS,
    Summary,
    count_slower_than,
    is_number,
    psi,
)
from monitoring.telemetry.models import (
    ALL_VERSIONS,
    Alert,
    DataTest,
    DataTestResult,
    GroundTruth,
    HourBucket,
    MinuteBucket,
    PredictionEvent,
    RollupPending,
    SlaRule,
)

MAX_BATCH = 10_000
MAX_REPORTED_ERRORS = 100
FUTURE_SKEW = timedelta(minutes=5)
EVENT_FIELDS = frozenset({"event_id", "timestamp", "deployment", "version", "latency_ms", "status", "prediction", "score", "features"})
LABEL_FIELDS = frozenset({"event_id", "deployment", "label"})


def raw_retention() -> timedelta:
    return timedelta(days=getattr(settings, "TELEMETRY_RAW_RETENTION_DAYS", 7))


def minute_retention() -> timedelta:
    # Minute buckets must outlive raw events: a late event recomputes its minute from raw rows.
    return max(timedelta(days=getattr(settings, "TELEMETRY_MINUTE_RETENTION_DAYS", 14)), raw_retention())


def _model_ctx(deployment: Deployment) -> dict:
    model = deployment.registered_model
    return {"team_slug": model.team.slug, "model_name": model.name, "registered_model_id": model.pk}


def _require_role(user, model, action: str) -> None:
    """The role axis, checked here for every surface: ``<app>.<action>_<model>``; read-only roles write nothing."""
    if not has_action_perm(user, model, action):
        raise PermissionDeniedError(f"Your role does not allow {action} on {model._meta.verbose_name_plural}.")


def _writable_deployments(user, ids) -> dict[int, Deployment]:
    """Deployments among ``ids`` the user may post telemetry for.

    Not visible → 404-like field error (nothing leaks); visible but another team's
    (approvers, risk officers see every team) → 403.
    """
    # An id beyond 64 bits cannot exist, and the database driver overflows on it (was a 500).
    too_big = [i for i in ids if not -(2**63) <= i < 2**63]
    if too_big:
        raise ApplicationError(
            f"Deployment {too_big[0]} does not exist; nothing was stored.",
            code="not_found", status_code=404, fields={"deployment": [f"Unknown deployment {too_big[0]}."]},
        )
    visible = {
        d.pk: d
        for d in restrict(Deployment.objects.filter(pk__in=ids), user, "view").select_related("registered_model__team")
    }
    from registry.models import RegisteredModel

    changeable = set(
        restrict(RegisteredModel.objects.filter(pk__in={d.registered_model_id for d in visible.values()}), user, "change")
        .values_list("pk", flat=True)
    )
    missing = [i for i in ids if i not in visible]
    if missing:
        raise ApplicationError(
            f"Deployment {missing[0]} does not exist or is not visible to you; nothing was stored.",
            code="not_found", status_code=404, fields={"deployment": [f"Unknown deployment {missing[0]}."]},
        )
    refused = [d for d in visible.values() if d.registered_model_id not in changeable]
    if refused:
        raise PermissionDeniedError(
            f"Only the team owning {refused[0].registered_model.name} may post its telemetry.", code="permission_denied"
        )
    return visible


# --- ingestion ----------------------------------------------------------------------


def _from_epoch(value: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class _Batch:
    rows: list[tuple]
    minutes: dict[int, set[datetime]]
    errors: list[dict]


def _batch_error(message: str, errors: list[dict]) -> ApplicationError:
    shown = errors[:MAX_REPORTED_ERRORS]
    return ApplicationError(
        f"{message} First: events[{shown[0]['index']}].{shown[0]['field']}: {shown[0]['message']} Nothing was stored.",
        code="invalid_batch",
        fields={"events": shown, "error_count": len(errors)},
    )


def _check_batch_shape(items, what: str) -> None:
    if not isinstance(items, list) or not items:
        raise ApplicationError(f"'{what}' must be a non-empty list.", fields={what: ["A non-empty list."]})
    if len(items) > MAX_BATCH:
        raise ApplicationError(
            f"At most {MAX_BATCH} {what} per request (got {len(items)}); split the batch.",
            code="batch_too_large", status_code=413, fields={what: [f"At most {MAX_BATCH} items."]},
        )


def _deployment_ids(items, default_deployment) -> list[int]:
    ids = set()
    for item in items:
        if isinstance(item, dict):
            dep = item.get("deployment", default_deployment)
            if isinstance(dep, int) and not isinstance(dep, bool):
                ids.add(dep)
    return sorted(ids)


def _split_versions(deployment_ids) -> dict[int, list[int]]:
    versions: dict[int, list[int]] = defaultdict(list)
    for dep_id, number in DeploymentSplit.objects.filter(deployment_id__in=deployment_ids).values_list(
        "deployment_id", "version__version"
    ):
        versions[dep_id].append(number)
    return versions


def _validate_events(events: list, default_deployment, deployments: dict[int, Deployment], now: datetime) -> _Batch:
    """One pass over the batch, collecting every error with its index and field (no DRF
    serializer per event: at 10,000 events a request its overhead would dominate)."""
    errors: list[dict] = []
    rows: list[tuple] = []
    minutes: dict[int, set[datetime]] = {}
    epoch_minutes: dict[int, set[int]] = defaultdict(set)  # ints: cheaper than truncating 10,000 datetimes
    split_versions = _split_versions(list(deployments))
    oldest = now - raw_retention()
    latest = now + FUTURE_SKEW

    def err(index, field, message):
        errors.append({"index": index, "field": field, "message": message})

    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            err(i, "", "An event is a JSON object.")
            continue
        if not EVENT_FIELDS.issuperset(ev):  # no set built per event in the common case
            err(i, sorted(ev.keys() - EVENT_FIELDS)[0], "Unknown field.")
        n_errors = len(errors)
        dep_id = ev.get("deployment", default_deployment)
        if not isinstance(dep_id, int) or isinstance(dep_id, bool):
            err(i, "deployment", "A deployment id (integer) is required, per event or for the batch.")
        event_id = ev.get("event_id")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
            err(i, "event_id", "A string of 1–64 characters is required.")
        raw_ts = ev.get("timestamp")
        ts = None
        if isinstance(raw_ts, str):
            try:
                ts = datetime.fromisoformat(raw_ts)
            except ValueError:
                ts = None
            if ts is not None and ts.tzinfo is None:
                err(i, "timestamp", "Give a timezone offset (e.g. 2026-01-31T12:00:00Z).")
                ts = False
        elif is_number(raw_ts):
            ts = _from_epoch(raw_ts)
        if ts is None:
            err(i, "timestamp", "An ISO 8601 date-time with offset, or epoch seconds, is required.")
        elif ts is not False:
            if ts > latest:
                err(i, "timestamp", "More than 5 minutes in the future (clock skew?).")
            elif ts < oldest:
                err(i, "timestamp", f"Older than the raw-event retention ({raw_retention().days} days).")
        latency = ev.get("latency_ms")
        if not is_number(latency) or latency < 0:
            err(i, "latency_ms", "A non-negative number of milliseconds is required.")
        status = ev.get("status", EventStatus.OK)
        if status not in (EventStatus.OK, EventStatus.ERROR):
            err(i, "status", 'Either "ok" or "error".')
        score = ev.get("score")
        if score is not None and (not is_number(score) or not 0 <= score <= 1):
            err(i, "score", "A probability between 0 and 1, or null.")
        features = ev.get("features")
        if features is not None and not isinstance(features, dict):
            err(i, "features", "An object of feature name → value, or null.")
        version = ev.get("version")
        known_versions = split_versions.get(dep_id, []) if isinstance(dep_id, int) else []
        if version is None:
            if len(known_versions) == 1:
                version = known_versions[0]
            elif isinstance(dep_id, int):
                err(i, "version", "This deployment splits traffic: say which version served the event.")
        elif not isinstance(version, int) or isinstance(version, bool) or version not in known_versions:
            err(i, "version", f"Not a version of this deployment (serving: {', '.join(map(str, known_versions)) or 'none'}).")
        if len(errors) != n_errors:
            continue
        prediction = ev.get("prediction")
        if score is None and is_number(prediction) and 0 <= prediction <= 1:
            score = float(prediction)
        rows.append((dep_id, event_id, ts, version, float(latency), status, prediction, score, features))
        epoch_minutes[dep_id].add(int(ts.timestamp()) // 60)
    for dep_id, values in epoch_minutes.items():
        minutes[dep_id] = {datetime.fromtimestamp(m * 60, tz=UTC) for m in values}
    return _Batch(rows=rows, minutes=minutes, errors=errors)


def _mark_minutes(minutes: dict[int, set[datetime]]) -> None:
    """Mark (deployment, minute) buckets for recomputation; a re-mark moves ``marked_at``."""
    now = timezone.now()
    marks = [RollupPending(deployment_id=dep, minute=m, marked_at=now) for dep, ms in minutes.items() for m in ms]
    if marks:
        RollupPending.objects.bulk_create(
            marks, update_conflicts=True, unique_fields=["deployment", "minute"], update_fields=["marked_at"]
        )


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_escape(value: str) -> str:
    """Escape for COPY's text format (backslash, tab, newline, carriage return)."""
    if _COPY_SPECIAL.search(value) is None:
        return value  # the common case, checked in C
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_json_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def _json_text(value) -> str:
    """JSON for a COPY column; scalars without the encoder's per-call overhead."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return _copy_escape(_json_encode(value))


_EVENT_COLUMNS = "deployment_id, event_id, timestamp, version, latency_ms, status, prediction, score, features, received_at"


def _copy_buffer(rows: list[tuple], received_at: datetime) -> io.StringIO:
    buffer = io.StringIO()
    recv = received_at.isoformat()
    write = buffer.write
    null = "\\N"
    for dep, event_id, ts, version, latency, status, prediction, score, features in rows:
        score_text = null if score is None else repr(score)
        features_text = null if features is None else _json_text(features)
        write(
            f"{dep}\t{_copy_escape(event_id)}\t{ts.isoformat()}\t{version}\t{latency!r}\t{status}\t"
            f"{_json_text(prediction)}\t{score_text}\t{features_text}\t{recv}\n"
        )
    buffer.seek(0)
    return buffer


def store_events_by_copy(rows: list[tuple], received_at: datetime) -> int:
    """Store event rows on PostgreSQL with ``COPY``; return how many were new.

    Guarantee: every (deployment, event_id) of ``rows`` is stored exactly once,
    whether or not it was already stored (a retry, a concurrent replica sending
    the same batch) or appears twice in ``rows``; rows already stored are left as
    they were. Runs inside the caller's transaction. A first send (the common
    case) is one ``COPY``. COPY cannot skip duplicates, so if an id is already
    stored the COPY fails on the unique key, is rolled back to its savepoint, and
    the rows go through a temporary staging table and
    ``INSERT … ON CONFLICT DO NOTHING`` instead (slower, always correct).
    """
    import psycopg2

    table = PredictionEvent._meta.db_table
    seen: set[tuple[int, str]] = set()
    fresh = []
    for row in rows:
        key = (row[0], row[1])
        if key not in seen:
            seen.add(key)  # a duplicate inside the batch counts once
            fresh.append(row)
    buffer = _copy_buffer(fresh, received_at)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({_EVENT_COLUMNS}) FROM STDIN", buffer)
        return len(fresh)
    except (IntegrityError, psycopg2.IntegrityError):
        buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (deployment_id bigint, event_id varchar(64), "
            "timestamp timestamptz, version integer, latency_ms double precision, status varchar(8), prediction jsonb, "
            "score double precision, features jsonb, received_at timestamptz) ON COMMIT DELETE ROWS"
        )
        cursor.copy_expert(f"COPY telemetry_stage ({_EVENT_COLUMNS}) FROM STDIN", buffer)
        # Table and column names are ours, no user input reaches this SQL.
        insert = f"INSERT INTO {table} ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM telemetry_stage "  # noqa: S608
        cursor.execute(insert + "ON CONFLICT (deployment_id, event_id) DO NOTHING")
        return cursor.rowcount  # the staging rows go at commit (ON COMMIT DELETE ROWS)


def _store_events_generic(rows: list[tuple], received_at: datetime) -> int:
    by_dep: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_dep[row[0]].append(row)
    objs = []
    for dep, dep_rows in by_dep.items():
        ids = [r[1] for r in dep_rows]
        existing = set()
        for start in range(0, len(ids), 2000):
            existing.update(
                PredictionEvent.objects.filter(deployment_id=dep, event_id__in=ids[start : start + 2000]).values_list(
                    "event_id", flat=True
                )
            )
        for dep_id, event_id, ts, version, latency, status, prediction, score, features in dep_rows:
            if event_id in existing:
                continue
            existing.add(event_id)  # a duplicate inside the batch counts once
            objs.append(PredictionEvent(
                deployment_id=dep_id, event_id=event_id, timestamp=ts, version=version, latency_ms=latency,
                status=status, prediction=prediction, score=score, features=features, received_at=received_at,
            ))
    PredictionEvent.objects.bulk_create(objs, batch_size=1000, ignore_conflicts=True)
    return len(objs)


def events_ingest(*, user, events, deployment: int | None = None) -> dict:
    """Store a batch of prediction events all-or-nothing; duplicate event ids are skipped.

    Returns ``{"received", "stored", "duplicates", "data_tests": [...]}``.
    """
    _require_role(user, PredictionEvent, "add")
    _check_batch_shape(events, "events")
    deployments = _writable_deployments(user, _deployment_ids(events, deployment))
    now = timezone.now()
    batch = _validate_events(events, deployment, deployments, now)
    if batch.errors:
        raise _batch_error(f"{len(batch.errors)} error(s) in the batch.", batch.errors)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            stored = store_events_by_copy(batch.rows, now)
        else:
            stored = _store_events_generic(batch.rows, now)
        _mark_minutes(batch.minutes)
        results = _run_data_tests(events, deployment, list(deployments), now)
    return {"received": len(events), "stored": stored, "duplicates": len(events) - stored, "data_tests": results}


def _rows_by_event_id(model, deployment_id: int, ids: list[str], column: str) -> list[tuple]:
    """``column`` of the rows of ``model`` with these event ids, probing the unique (deployment, event_id) index.

    On PostgreSQL a join on ``unnest`` of the ids: with ``event_id IN (…)`` the planner, misled by
    stale statistics after bulk loads, may scan every row of the deployment through the timestamp index.
    """
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.{column} FROM unnest(%s::varchar[]) AS i(event_id) "  # noqa: S608 (our names)
                f"JOIN {table} t ON t.deployment_id = %s AND t.event_id = i.event_id",
                [ids, deployment_id],
            )
            return cursor.fetchall()
    out = []
    for start in range(0, len(ids), 2000):
        out.extend(model.objects.filter(deployment_id=deployment_id, event_id__in=ids[start : start + 2000])
                   .values_list(column))
    return out


def ground_truth_ingest(*, user, labels, deployment: int | None = None) -> dict:
    """Store realised labels joined later by event id; a label already stored is kept (safe retries)."""
    _require_role(user, GroundTruth, "add")
    _check_batch_shape(labels, "labels")
    _writable_deployments(user, _deployment_ids(labels, deployment))
    errors: list[dict] = []
    rows: dict[tuple[int, str], object] = {}
    for i, item in enumerate(labels):
        if not isinstance(item, dict):
            errors.append({"index": i, "field": "", "message": "A label is a JSON object."})
            continue
        unknown = item.keys() - LABEL_FIELDS
        if unknown:
            errors.append({"index": i, "field": sorted(unknown)[0], "message": "Unknown field."})
        dep_id = item.get("deployment", deployment)
        if not isinstance(dep_id, int) or isinstance(dep_id, bool):
            errors.append({"index": i, "field": "deployment", "message": "A deployment id (integer) is required."})
        event_id = item.get("event_id")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
            errors.append({"index": i, "field": "event_id", "message": "A string of 1–64 characters is required."})
        if "label" not in item or item["label"] is None or isinstance(item["label"], dict | list):
            errors.append({"index": i, "field": "label", "message": "A number, string or boolean is required."})
        if not errors or errors[-1]["index"] != i:
            rows.setdefault((dep_id, event_id), item["label"])
    if errors:
        raise _batch_error(f"{len(errors)} error(s) in the batch.", errors)
    now = timezone.now()
    with transaction.atomic():
        by_dep: dict[int, list[str]] = defaultdict(list)
        for dep_id, event_id in rows:
            by_dep[dep_id].append(event_id)
        existing = set()
        for dep_id, ids in by_dep.items():
            existing.update((dep_id, e) for e, in _rows_by_event_id(GroundTruth, dep_id, ids, "event_id"))
        new = [
            GroundTruth(deployment_id=dep_id, event_id=event_id, label=label, received_at=now)
            for (dep_id, event_id), label in rows.items()
            if (dep_id, event_id) not in existing
        ]
        GroundTruth.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        # The labelled events' minutes are recomputed so quality reaches the rollups.
        minutes: dict[int, set[datetime]] = defaultdict(set)
        matched = 0
        for dep_id, ids in by_dep.items():
            for (ts,) in _rows_by_event_id(PredictionEvent, dep_id, ids, "timestamp"):
                minutes[dep_id].add(ts.replace(second=0, microsecond=0))
                matched += 1
        _mark_minutes(minutes)
    return {"received": len(labels), "stored": len(new), "duplicates": len(labels) - len(new), "matched_events": matched}


# --- data tests on incoming batches -------------------------------------------------


def _field_value(event: dict, field: str):
    if field in ("prediction", "score", "latency_ms", "status", "version"):
        return event.get(field)
    name = field.removeprefix("features.")
    features = event.get("features") or {}
    return features.get(name) if isinstance(features, dict) else None


_TYPE_CHECKS = {
    ValueType.NUMBER: is_number,
    ValueType.STRING: lambda v: isinstance(v, str),
    ValueType.BOOLEAN: lambda v: isinstance(v, bool),
}


def _run_data_tests(events: list, default_deployment, deployment_ids: list[int], now: datetime) -> list[dict]:
    tests = list(DataTest.objects.filter(deployment_id__in=deployment_ids))
    if not tests:
        return []
    by_dep: dict[int, list[dict]] = defaultdict(list)
    for ev in events:
        by_dep[ev.get("deployment", default_deployment)].append(ev)
    results = []
    out = []
    for test in tests:
        values = [_field_value(ev, test.field) for ev in by_dep.get(test.deployment_id, [])]
        checked = len(values)
        if not checked:
            continue
        if test.kind == DataTestKind.NULL_RATE:
            failed = sum(1 for v in values if v is None)
        else:
            present = [v for v in values if v is not None]
            if test.kind == DataTestKind.TYPE:
                check = _TYPE_CHECKS[test.value_type]
                failed = sum(1 for v in present if not check(v))
            elif test.kind == DataTestKind.RANGE:
                lo = -math.inf if test.min_value is None else test.min_value
                hi = math.inf if test.max_value is None else test.max_value
                failed = sum(1 for v in present if not (is_number(v) and lo <= v <= hi))
            else:
                allowed = {json.dumps(a, sort_keys=True) for a in test.allowed_values}
                failed = sum(1 for v in present if json.dumps(v, sort_keys=True) not in allowed)
        passed = failed / checked <= test.tolerance
        results.append(DataTestResult(test=test, checked=checked, failed=failed, passed=passed, severity=test.severity,
                                      created_at=now))
        out.append({"test": test.pk, "field": test.field, "kind": test.kind, "checked": checked, "failed": failed,
                    "passed": passed, "severity": test.severity})
    DataTestResult.objects.bulk_create(results)
    return out


def data_test_create(*, user, deployment: Deployment, **fields) -> DataTest:
    _writable_deployments(user, [deployment.pk])
    test = DataTest(deployment=deployment, **fields)
    _full_clean(test)
    with transaction.atomic():
        test.save()
        audit.record(action="telemetry.data_test.create", obj=test, **_model_ctx(deployment),
                     changes=audit.diff({}, {"field": test.field, "kind": test.kind, "tolerance": test.tolerance,
                                             "severity": test.severity}))
    return test


def data_test_delete(*, user, test: DataTest) -> None:
    _writable_deployments(user, [test.deployment_id])
    with transaction.atomic():
        audit.record(action="telemetry.data_test.delete", obj=test, **_model_ctx(test.deployment),
                     changes=audit.diff({"field": test.field, "kind": test.kind}, {}))
        test.delete()


# --- rollups ------------------------------------------------------------------------


def _latency_bucket_expression():
    """SQL twin of ``histogram.latency_bucket`` (LN, FLOOR and LEAST exist on PostgreSQL and SQLite)."""
    index = Floor(Ln(F("latency_ms") / Value(LATENCY_MIN_MS)) / Value(math.log(LATENCY_GROWTH))) + Value(1.0)
    return Cast(
        Case(
            When(latency_ms__lt=LATENCY_MIN_MS, then=Value(0.0)),
            default=Least(index, Value(float(LATENCY_BUCKETS - 1))),
            output_field=FloatField(),
        ),
        IntegerField(),
    )


def _runs(minutes: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Contiguous runs of minutes as [start, end) ranges, so a rollup scans only marked time."""
    runs = []
    for m in sorted(minutes):
        if runs and m - runs[-1][1] < timedelta(minutes=1) + timedelta(seconds=1) and m >= runs[-1][1]:
            runs[-1][1] = m + timedelta(minutes=1)
        else:
            runs.append([m, m + timedelta(minutes=1)])
    return [(a, b) for a, b in runs]


def _minute_summaries(deployment_id: int, start: datetime, end: datetime) -> dict[tuple[datetime, int], Summary]:
    events = PredictionEvent.objects.filter(deployment_id=deployment_id, timestamp__gte=start, timestamp__lt=end)
    out: dict[tuple[datetime, int], Summary] = defaultdict(Summary)
    latency_rows = (
        events.annotate(minute=TruncMinute("timestamp"), bucket=_latency_bucket_expression())
        .values("minute", "version", "bucket")
        .annotate(n=Count("id"), errors=Count("id", filter=Q(status=EventStatus.ERROR)), lsum=Sum("latency_ms"))
        .order_by()
    )
    for row in latency_rows:
        s = out[(row["minute"], row["version"])]
        s.count += row["n"]
        s.errors += row["errors"]
        s.latency_sum += row["lsum"] or 0.0
        s.latency_hist[row["bucket"]] += row["n"]
    score_rows = (
        events.filter(score__isnull=False)
        .annotate(minute=TruncMinute("timestamp"),
                  bin=Cast(Least(Floor(F("score") * Value(float(SCORE_BINS))), Value(float(SCORE_BINS - 1))), IntegerField()))
        .values("minute", "version", "bin")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in score_rows:
        out[(row["minute"], row["version"])].score_hist[row["bin"]] += row["n"]
    for ts, version, prediction, score, label, received in labelled_events(deployment_id, start, end):
        out[(ts.replace(second=0, microsecond=0), version)].add_labeled(
            prediction=prediction, score=score, label=label, lag_seconds=(received - ts).total_seconds()
        )
    return out


def labelled_events(deployment_id: int, start: datetime, end: datetime) -> QuerySet:
    """(timestamp, version, prediction, score, label, label received_at) of the
    deployment's events in [start, end) that have a label, in one query.

    Guarantee: the work is bounded by the window, whatever the table statistics
    (missing after a restore or a bulk load, stale where autovacuum lags): the
    events are read through the (deployment, timestamp) index, and each one's label
    is probed through the unique (deployment, event_id) index. The label lookups are
    scalar subqueries (``LIMIT 1``, no ordering), which PostgreSQL cannot turn into a
    join against every label of the deployment, as it did with ``IN (subquery)``.
    """
    label = GroundTruth.objects.filter(deployment_id=deployment_id, event_id=OuterRef("event_id")).order_by()
    return (
        PredictionEvent.objects.filter(deployment_id=deployment_id, timestamp__gte=start, timestamp__lt=end)
        .annotate(label_received_at=Subquery(label.values("received_at")[:1]))
        .filter(label_received_at__isnull=False)
        .annotate(label=Subquery(label.values("label")[:1]))
        .order_by()
        .values_list("timestamp", "version", "prediction", "score", "label", "label_received_at")
    )


def _bucket_kwargs(summary: Summary) -> dict:
    return {**summary.as_fields(), "p50": summary.p(0.5), "p95": summary.p(0.95), "p99": summary.p(0.99)}


def _with_all_versions(summaries: dict[tuple[datetime, int], Summary]) -> dict[tuple[datetime, int], Summary]:
    """Add the ALL_VERSIONS row of each bucket start: the sum of its versions."""
    totals: dict[datetime, Summary] = defaultdict(Summary)
    for (start, version), summary in summaries.items():
        if version != ALL_VERSIONS:
            totals[start].add_bucket(summary)
    return {**{k: v for k, v in summaries.items() if k[1] != ALL_VERSIONS},
            **{(start, ALL_VERSIONS): total for start, total in totals.items()}}


def _recompute_minutes(deployment_id: int, minutes: set[datetime], now: datetime) -> set[datetime]:
    """Rebuild the minute buckets of ``minutes`` from raw events; return the hours touched."""
    summaries: dict[tuple[datetime, int], Summary] = {}
    for start, end in _runs(list(minutes)):
        summaries.update(_minute_summaries(deployment_id, start, end))
    summaries = _with_all_versions(summaries)
    MinuteBucket.objects.filter(deployment_id=deployment_id, start__in=list(minutes)).delete()
    MinuteBucket.objects.bulk_create(
        [
            MinuteBucket(deployment_id=deployment_id, start=minute, version=version, updated_at=now, **_bucket_kwargs(s))
            for (minute, version), s in summaries.items()
            if minute in minutes
        ],
        batch_size=500,
    )
    return {m.replace(minute=0) for m in minutes}


def _recompute_hours(deployment_id: int, hours: set[datetime], now: datetime) -> None:
    merged: dict[tuple[datetime, int], Summary] = defaultdict(Summary)
    # One index range over the span (an OR of ranges would scan the deployment's every bucket).
    rows = MinuteBucket.objects.filter(
        deployment_id=deployment_id, start__gte=min(hours), start__lt=max(hours) + timedelta(hours=1)
    ).exclude(version=ALL_VERSIONS).values("start", "version", *SUMMARY_FIELDS)
    for row in rows:
        hour = row["start"].replace(minute=0)
        if hour in hours:
            merged[(hour, row["version"])].add_bucket(row)
    merged = _with_all_versions(merged)
    HourBucket.objects.filter(deployment_id=deployment_id, start__in=list(hours)).delete()
    HourBucket.objects.bulk_create(
        [
            HourBucket(deployment_id=deployment_id, start=hour, version=version, updated_at=now, **_bucket_kwargs(s))
            for (hour, version), s in merged.items()
        ]
    )


_ROLLUP_LOCK = 0x7E1E_0001  # PostgreSQL advisory lock key: one rollup at a time


def take_rollup_lock() -> bool:
    """Try to become the one rollup running now; call inside a transaction.

    Guarantee: while one transaction holds it (until it commits or rolls back), every
    other caller gets False at once, without waiting; so two rollups (the rollup task
    and an evaluation's own) never rebuild the same bucket at once and collide on its
    unique key. On PostgreSQL a transaction-level advisory lock
    (``pg_try_advisory_xact_lock``); SQLite's single write lock already serialises
    writing transactions, so there it is always True."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ROLLUP_LOCK])
        return cursor.fetchone()[0]


def rollup_pending(*, limit: int = 2000) -> int:
    """Recompute the minute (and hour) buckets of every marked minute; return how many.

    Idempotent: a bucket is rebuilt from raw events, never incremented, so a
    retried run cannot double count; concurrent runs take turns (advisory lock).
    """
    done = 0
    while True:
        with transaction.atomic():
            if not take_rollup_lock():
                return done  # another rollup is running; it will take these marks
            marks = list(
                RollupPending.objects.order_by("minute", "id").values_list("id", "deployment_id", "minute", "marked_at")[:limit]
            )
            if not marks:
                return done
            now = timezone.now()
            by_dep: dict[int, set[datetime]] = defaultdict(set)
            for _, dep, minute, _ in marks:
                by_dep[dep].add(minute)
            for dep, minutes in by_dep.items():
                hours = _recompute_minutes(dep, minutes, now)
                _recompute_hours(dep, hours, now)
            # Delete only the marks we processed: a mark re-set meanwhile (new events) has a newer marked_at.
            for start in range(0, len(marks), 200):
                query = Q()
                for pk, _, _, marked_at in marks[start : start + 200]:
                    query |= Q(pk=pk, marked_at=marked_at)
                RollupPending.objects.filter(query).delete()
        done += len(marks)
        if len(marks) < limit:
            return done


# --- windows over the rollups -------------------------------------------------------


SUMMARY_FIELDS = ("count", "errors", "latency_sum", "latency_hist", "score_hist", "labeled", "correct", "tp", "fp", "fn",
                  "tn", "numeric_labeled", "sse", "pos_hist", "neg_hist", "label_lag_sum")


def window_summary(deployment_id: int, start: datetime, end: datetime, version: int | None = None,
                   fields: tuple[str, ...] = SUMMARY_FIELDS) -> Summary:
    """Merge the buckets covering [start, end): whole hours from hour buckets, edges from minute buckets."""
    summary = Summary()
    aligned = start.replace(minute=0, second=0, microsecond=0)
    first_hour = aligned if aligned == start else aligned + timedelta(hours=1)
    last_hour = end.replace(minute=0, second=0, microsecond=0)
    filters = {"deployment_id": deployment_id, "version": ALL_VERSIONS if version is None else version}
    if first_hour < last_hour:
        for row in HourBucket.objects.filter(start__gte=first_hour, start__lt=last_hour, **filters).values(*fields):
            summary.add_bucket(row)
        # Two range queries, not one OR: PostgreSQL cannot use the index range for an OR of ranges.
        edges = [(start, first_hour), (last_hour, end)]
    else:
        edges = [(start, end)]
    for lo, hi in edges:
        if lo < hi:
            for row in MinuteBucket.objects.filter(start__gte=lo, start__lt=hi, **filters).values(*fields):
                summary.add_bucket(row)
    return summary


# --- rule evaluation ----------------------------------------------------------------


def _quantile(metric: str) -> float:
    return {Metric.LATENCY_P50: 0.5, Metric.LATENCY_P95: 0.95, Metric.LATENCY_P99: 0.99}[metric]


class _Windows:
    """Per-run cache: rules of one deployment share their window summaries."""

    def __init__(self, now: datetime):
        self.now = now
        self.cache: dict[tuple, Summary] = {}

    def last(self, deployment_id: int, minutes: int) -> Summary:
        key = (deployment_id, minutes)
        if key not in self.cache:
            self.cache[key] = window_summary(deployment_id, self.now - timedelta(minutes=minutes), self.now)
        return self.cache[key]


def _bad_fraction(rule: SlaRule, s: Summary) -> float | None:
    if not s.count or s.count < rule.min_events:
        return None
    if rule.metric == Metric.ERROR_RATE:
        return s.errors / s.count
    return count_slower_than(s.latency_hist, rule.threshold) / s.count


def rule_value(rule: SlaRule, windows: _Windows) -> tuple[float | None, bool]:
    """(observed value, breaching). No data is not a breach (Prometheus: an empty result does not fire)."""
    now = windows.now
    if rule.kind == RuleKind.BURN_RATE:
        budget = 1 - rule.objective
        fired = False
        shown = None
        for factor, long_minutes, short_minutes in BURN_WINDOWS[rule.burn_policy]:
            long_bad = _bad_fraction(rule, windows.last(rule.deployment_id, long_minutes))
            short_bad = _bad_fraction(rule, windows.last(rule.deployment_id, short_minutes))
            if long_bad is None or short_bad is None:
                continue
            long_burn, short_burn = long_bad / budget, short_bad / budget
            shown = long_burn if shown is None else max(shown, long_burn)
            fired = fired or (long_burn > factor and short_burn > factor)
        return shown, fired
    metric = rule.metric
    if metric == Metric.FRESHNESS:
        last = PredictionEvent.objects.filter(deployment_id=rule.deployment_id).order_by("-timestamp").values_list(
            "timestamp", flat=True).first()
        value = None if last is None else max((now - last).total_seconds(), 0.0)
    elif metric == Metric.LABEL_FRESHNESS:
        last = GroundTruth.objects.filter(deployment_id=rule.deployment_id).order_by("-received_at").values_list(
            "received_at", flat=True).first()
        value = None if last is None else max((now - last).total_seconds(), 0.0)
    else:
        s = windows.last(rule.deployment_id, rule.window_minutes)
        if metric == Metric.THROUGHPUT:
            value = s.count / rule.window_minutes
        elif metric in QUALITY_METRICS:
            value = None if s.labeled < rule.min_events else getattr(s, metric)
        elif s.count < rule.min_events:
            value = None
        elif metric == Metric.ERROR_RATE:
            value = s.error_rate
        elif metric == Metric.DRIFT_PSI:
            value = psi(baseline_score_hist(rule.deployment), s.score_hist)
        else:
            value = s.p(_quantile(metric))
    if value is None:
        return None, False
    return value, (value < rule.threshold) if rule.is_floor else (value > rule.threshold)


def baseline_score_hist(deployment: Deployment) -> list[int]:
    """Reference score distribution for drift: the deployment's first 24 hours of traffic."""
    start = deployment.created_at.replace(second=0, microsecond=0)
    return window_summary(deployment.pk, start, start + timedelta(hours=24), fields=("score_hist",)).score_hist


def _alert_text(rule: SlaRule, value: float | None) -> str:
    shown = "no data" if value is None else f"{value:.4g}"
    return f"{rule.name}: {rule.condition} (now {shown}) on {rule.deployment.registered_model.name} in {rule.deployment.environment.slug}"


def _notify(alert: Alert, event: str) -> None:
    """E-mail the owner on commit; a signed webhook through governance's outbox when it knows the event."""
    rule = alert.rule
    owner = rule.owner
    if owner.email:
        subject = f"[Modelgate] {alert.get_severity_display()} alert {event}: {rule.name}"
        body = (f"{alert.summary}\n\nState: {alert.state}\nRunbook: {rule.runbook_url or '-'}\n{rule.runbook}\n")
        transaction.on_commit(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email], fail_silently=True)
        )
    try:
        from governance.choices import WebhookEvent
        from governance.services import webhook_emit
    except ImportError:
        return
    name = f"alert.{event}"
    if name in WebhookEvent.values:
        webhook_emit(event=name, model=rule.deployment.registered_model, data={
            "alert_id": alert.pk, "rule": rule.name, "severity": alert.severity, "state": alert.state,
            "deployment_id": alert.deployment_id, "summary": alert.summary, "runbook_url": rule.runbook_url,
        })


def _open_alert(rule: SlaRule, value: float | None, now: datetime) -> Alert:
    alert = Alert(rule=rule, deployment_id=rule.deployment_id, severity=rule.severity, summary=_alert_text(rule, value)[:300],
                  value_at_open=value, last_value=value, opened_at=now)
    alert.save()
    audit.record(action="telemetry.alert.open", obj=alert, **_model_ctx(rule.deployment),
                 changes={"state": {"before": None, "after": AlertState.OPEN}, "value": {"before": None, "after": value}})
    _notify(alert, "opened")
    return alert


def _auto_resolve(alert: Alert, value: float | None, now: datetime, reason: str) -> None:
    if alert.state == AlertState.RESOLVED:
        return
    before = alert.state
    alert.state = AlertState.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = None
    alert.last_value = value
    alert.resolution = reason[:300]
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "last_value", "resolution"])
    audit.record(action="telemetry.alert.resolve", obj=alert, **_model_ctx(alert.rule.deployment),
                 changes={"state": {"before": before, "after": AlertState.RESOLVED}, "resolution": {"before": "", "after": reason}})
    _notify(alert, "resolved")


def _apply_evaluation(rule: SlaRule, value: float | None, breaching: bool, now: datetime) -> str | None:
    """Advance the rule's Prometheus-style state machine; returns "opened"/"resolved" when an alert changed."""
    changed = None
    rule.last_value = value
    rule.last_evaluated_at = now
    if breaching:
        rule.consecutive_breaches += 1
        rule.last_breach_at = now
        if rule.state == RuleState.FIRING or rule.consecutive_breaches >= rule.for_count:
            rule.state = RuleState.FIRING
            if rule.episode_alert_id is None:
                rule.episode_alert = _open_alert(rule, value, now)
                changed = "opened"
            else:
                Alert.objects.filter(pk=rule.episode_alert_id).update(last_value=value)
        else:
            rule.state = RuleState.PENDING
    else:
        rule.consecutive_breaches = 0
        keep = timedelta(minutes=rule.keep_firing_for_minutes)
        if rule.state == RuleState.FIRING and keep and rule.last_breach_at and now - rule.last_breach_at < keep:
            pass  # keep_firing_for: hold the alert open through a short dip
        else:
            if rule.episode_alert_id is not None:
                alert = Alert.objects.select_related("rule__owner").get(pk=rule.episode_alert_id)
                if alert.state != AlertState.RESOLVED:
                    shown = "no data" if value is None else f"{value:.4g}"
                    _auto_resolve(alert, value, now, f"Recovered: {rule.metric} back within the SLA ({shown}).")
                    changed = "resolved"
            rule.state = RuleState.INACTIVE
            rule.episode_alert = None
    rule.save(update_fields=["state", "consecutive_breaches", "last_value", "last_evaluated_at", "last_breach_at",
                             "episode_alert"])
    return changed


def evaluate_rules(*, now: datetime | None = None) -> dict:
    """One evaluation round (the beat task, every minute): roll up first, then every active rule once.

    A rule already evaluated at this minute is skipped, so a duplicated beat
    tick cannot count one breach twice.
    """
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    rollup_pending()
    windows = _Windows(now)
    stats = {"evaluated": 0, "opened": 0, "resolved": 0, "skipped": 0}
    rules = (
        SlaRule.objects.filter(is_active=True, deployment__status=DeploymentStatus.ACTIVE)
        .select_related("deployment__registered_model__team", "deployment__environment", "owner")
        .order_by("deployment_id", "id")
    )
    for rule in rules:
        if rule.last_evaluated_at is not None and rule.last_evaluated_at >= now:
            stats["skipped"] += 1
            continue
        value, breaching = rule_value(rule, windows)
        with transaction.atomic():
            locked = SlaRule.objects.select_for_update().filter(pk=rule.pk, is_active=True).values_list(
                "last_evaluated_at", flat=True).first()
            if locked is not None and locked >= now:
                stats["skipped"] += 1
                continue
            changed = _apply_evaluation(rule, value, breaching, now)
        stats["evaluated"] += 1
        if changed:
            stats[changed] += 1
    # Rules whose deployment ended (or that were switched off) close their episode.
    stale = SlaRule.objects.filter(episode_alert__isnull=False).filter(
        ~Q(deployment__status=DeploymentStatus.ACTIVE) | Q(is_active=False)
    ).select_related("deployment__registered_model__team", "owner")
    for rule in stale:
        with transaction.atomic():
            alert = Alert.objects.select_related("rule__owner").get(pk=rule.episode_alert_id)
            _auto_resolve(alert, rule.last_value, now, "The rule was switched off or its deployment ended.")
            SlaRule.objects.filter(pk=rule.pk).update(state=RuleState.INACTIVE, episode_alert=None, consecutive_breaches=0)
            stats["resolved"] += 1
    return stats


# --- alerts (people) ----------------------------------------------------------------


def _lock_alert_for_change(user, alert: Alert) -> Alert:
    visible = restrict(Alert.objects.all(), user, "view").filter(pk=alert.pk).exists()
    if not visible:
        from modelgate.core.errors import NotFoundError

        raise NotFoundError("No such alert.")
    locked = (
        restrict(Alert.objects.select_for_update(of=("self",)), user, "change")
        .select_related("deployment__registered_model__team", "rule__owner")
        .filter(pk=alert.pk)
        .first()
    )
    if locked is None:
        raise PermissionDeniedError("Only the owning team may acknowledge or resolve this alert.")
    return locked


def _transition(alert: Alert, target: str) -> None:
    if target not in ALERT_TRANSITIONS[alert.state]:
        raise ConflictError(f"An alert that is {alert.state} cannot become {target}.", code="illegal_transition")


@transaction.atomic
def alert_acknowledge(*, user, alert: Alert, comment: str = "") -> Alert:
    alert = _lock_alert_for_change(user, alert)
    _transition(alert, AlertState.ACKNOWLEDGED)
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    audit.record(action="telemetry.alert.acknowledge", obj=alert, **_model_ctx(alert.deployment),
                 changes={"state": {"before": AlertState.OPEN, "after": AlertState.ACKNOWLEDGED}, "comment": comment})
    return alert


@transaction.atomic
def alert_resolve(*, user, alert: Alert, resolution: str) -> Alert:
    """Resolve by hand. The rule's episode stays: it will not open a new alert until the metric recovers."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise ApplicationError("Say how it was resolved.", fields={"resolution": ["This field is required."]})
    alert = _lock_alert_for_change(user, alert)
    before = alert.state
    _transition(alert, AlertState.RESOLVED)
    alert.state = AlertState.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = user
    alert.resolution = resolution[:300]
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "resolution"])
    audit.record(action="telemetry.alert.resolve", obj=alert, **_model_ctx(alert.deployment),
                 changes={"state": {"before": before, "after": AlertState.RESOLVED}, "resolution": {"before": "", "after": resolution}})
    _notify(alert, "resolved")
    return alert


# --- SLA rules ----------------------------------------------------------------------

RULE_FIELDS = ("name", "kind", "metric", "threshold", "window_minutes", "for_count", "keep_firing_for_minutes", "objective",
               "burn_policy", "min_events", "severity", "owner", "runbook_url", "runbook", "is_active")


def _full_clean(obj, **kwargs) -> None:
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        first = next(iter(fields.items()))
        raise ApplicationError(f"{first[0]}: {first[1][0]}", fields=fields) from None


def _rule_snapshot(rule: SlaRule) -> dict:
    return {f: (getattr(rule, f).get_username() if f == "owner" else getattr(rule, f)) for f in RULE_FIELDS}


def _check_owner(owner) -> None:
    if owner is None or not owner.is_active:
        raise ApplicationError("The owner must be an active user.", fields={"owner": ["An active user."]})
    if roles.is_read_only(owner):
        raise ApplicationError("An auditor cannot own an SLA rule.", fields={"owner": ["Choose someone who can act."]})


@transaction.atomic
def sla_rule_create(*, user, deployment: Deployment, **fields) -> SlaRule:
    _writable_deployments(user, [deployment.pk])
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown field {sorted(unknown)[0]}.", fields={sorted(unknown)[0]: ["Unknown field."]})
    fields.setdefault("owner", user)
    if fields.get("kind") == RuleKind.BURN_RATE:
        fields.setdefault("for_count", 1)  # the two windows already debounce a burn-rate alert
    _check_owner(fields["owner"])
    now = timezone.now()
    rule = SlaRule(deployment=deployment, created_by=user, created_at=now, updated_at=now, **fields)
    _full_clean(rule, exclude=["episode_alert"])
    if SlaRule.objects.filter(deployment=deployment, name=rule.name).exists():
        raise ConflictError(f"This deployment already has a rule named {rule.name!r}.", code="already_exists",
                            fields={"name": ["Already exists."]})
    rule.save()
    audit.record(action="telemetry.sla_rule.create", obj=rule, **_model_ctx(deployment), changes=audit.diff({}, _rule_snapshot(rule)))
    return rule


@transaction.atomic
def sla_rule_update(*, user, rule: SlaRule, data: dict) -> SlaRule:
    rule = SlaRule.objects.select_for_update(of=("self",)).select_related("deployment__registered_model__team", "owner").get(pk=rule.pk)
    _writable_deployments(user, [rule.deployment_id])
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown field {sorted(unknown)[0]}.", fields={sorted(unknown)[0]: ["Unknown field."]})
    before = _rule_snapshot(rule)
    for key, value in data.items():
        setattr(rule, key, value)
    if "owner" in data:
        _check_owner(rule.owner)
    _full_clean(rule, exclude=["episode_alert"])
    if SlaRule.objects.filter(deployment_id=rule.deployment_id, name=rule.name).exclude(pk=rule.pk).exists():
        raise ConflictError(f"This deployment already has a rule named {rule.name!r}.", code="already_exists",
                            fields={"name": ["Already exists."]})
    # A changed condition starts a fresh pending count (the old breaches were of another condition).
    if any(before[k] != getattr(rule, k) for k in ("metric", "threshold", "kind", "objective", "burn_policy", "window_minutes")):
        rule.consecutive_breaches = 0
    rule.updated_at = timezone.now()
    rule.save()
    audit.record(action="telemetry.sla_rule.update", obj=rule, **_model_ctx(rule.deployment),
                 changes=audit.diff(before, _rule_snapshot(rule)))
    return rule


@transaction.atomic
def sla_rule_delete(*, user, rule: SlaRule) -> None:
    rule = SlaRule.objects.select_related("deployment__registered_model__team", "owner").get(pk=rule.pk)
    _writable_deployments(user, [rule.deployment_id])
    if Alert.objects.filter(rule=rule).exclude(state=AlertState.RESOLVED).exists():
        raise ConflictError("Resolve the rule's open alert first (or switch the rule off).", code="open_alert")
    audit.record(action="telemetry.sla_rule.delete", obj=rule, **_model_ctx(rule.deployment),
                 changes=audit.diff(_rule_snapshot(rule), {}))
    rule.delete()


# --- retention ----------------------------------------------------------------------


def _delete_in_chunks(queryset, chunk: int = 20_000) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:chunk])
        if not ids:
            return total
        with transaction.atomic():
            total += queryset.model.objects.filter(pk__in=ids).delete()[0]


def retention_cleanup(*, now: datetime | None = None) -> dict:
    """Delete raw events and labels past the raw retention, minute buckets past theirs
    (hour buckets are kept: they are small and carry the long-term dashboards)."""
    now = now or timezone.now()
    raw_cutoff = now - raw_retention()
    return {
        "events": _delete_in_chunks(PredictionEvent.objects.filter(timestamp__lt=raw_cutoff)),
        "labels": _delete_in_chunks(GroundTruth.objects.filter(received_at__lt=raw_cutoff)),
        "minute_buckets": _delete_in_chunks(MinuteBucket.objects.filter(start__lt=now - minute_retention())),
        "data_test_results": _delete_in_chunks(DataTestResult.objects.filter(created_at__lt=now - timedelta(days=30))),
    }

