"""Portal pages of the registry: the model catalog, a model, a version.

Thin: every read goes through ``restrict()`` first (rows outside the user's
teams answer 404), lists are built with a fixed number of queries whatever
their length, and writes go through the apps' service functions.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from modelgate.core import roles
from modelgate.core.errors import ApplicationError
from modelgate.core.models import Team
from modelgate.core.permissions import restrict
from modelgate.core.portal import htmx_partial, paginate
from modelgate.core.selectors import audit_events_for
from registry.choices import Framework, VersionStatus
from registry.models import ModelVersion, RegisteredModel, VersionParent

SORTS = {
    "name": ("name", "Name (A–Z)"),
    "-updated": ("-updated_at", "Recently updated"),
    "-created": ("-created_at", "Newest"),
    "team": ("team__name", "Team"),
    "-versions": ("-version_count", "Most versions"),
}


def _catalog_queryset(user, params):
    latest = ModelVersion.objects.filter(registered_model=OuterRef("pk")).order_by("-version")
    qs = (
        restrict(RegisteredModel.objects.all(), user, "view")
        .select_related("team")
        .annotate(
            version_count=Count("versions", distinct=True),
            latest_version=Max("versions__version"),
            latest_status=Subquery(latest.values("status")[:1]),
            latest_framework=Subquery(latest.values("framework")[:1]),
        )
    )
    q = params.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    if params.get("team"):
        qs = qs.filter(team__slug=params["team"])
    tag = params.get("tag", "").strip()
    if tag:
        # "key" matches models carrying the tag, "key=value" its value too.
        key, _, value = tag.partition("=")
        qs = qs.filter(**{f"tags__{key}": value}) if value else qs.filter(tags__has_key=key)
    if params.get("framework"):
        qs = qs.filter(Exists(ModelVersion.objects.filter(registered_model=OuterRef("pk"), framework=params["framework"])))
    if params.get("status"):
        qs = qs.filter(latest_status=params["status"])
    qs, env_filter = _environment_filter(qs, params.get("environment", ""))
    order = SORTS.get(params.get("sort", ""), SORTS["name"])[0]
    return qs.order_by(order, "pk"), env_filter


def _environment_filter(qs, environment):
    """Filter on "has a version deployed in <environment>" once governance knows deployments."""
    deployments = _deployment_api()
    if deployments is None or not environment:
        return qs, environment if deployments else ""
    return deployments.filter_models_in_environment(qs, environment), environment


def _deployment_api():
    """Governance's portal helpers (environments, deployments, requests), or None.

    The registry must not depend on governance: the import is lazy, and a registry
    without governance installed still renders every page, without environment columns.
    """
    try:
        from governance import views as governance_views
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("governance"):
            return None
        raise
    return governance_views if hasattr(governance_views, "environment_board") else None


@login_required
def model_list(request):
    qs, _ = _catalog_queryset(request.user, request.GET)
    context = paginate(request, qs)
    rows = list(context["page_obj"].object_list)
    deployments = _deployment_api()
    environments = deployments.environments() if deployments else []
    board = deployments.current_versions_by_model([m.pk for m in rows]) if deployments else {}
    status_labels, framework_labels = dict(VersionStatus.choices), dict(Framework.choices)
    for row in rows:
        row.latest_status_label = status_labels.get(row.latest_status, "")
        row.latest_framework_label = framework_labels.get(row.latest_framework, "")
        row.env_versions = [board.get(row.pk, {}).get(env.pk) for env in environments]
    context.update(
        {
            "models": rows,
            "teams": Team.objects.all(),
            "frameworks": Framework.choices,
            "statuses": VersionStatus.choices,
            "environments": environments,
            "sorts": [(key, label) for key, (_, label) in SORTS.items()],
            "filters": {k: request.GET.get(k, "") for k in ("q", "team", "tag", "framework", "status", "environment", "sort")},
        }
    )
    context["filtered"] = any(v for k, v in context["filters"].items() if k != "sort")
    return render(request, "registry/model_list.html", context)


def _visible_model(user, name):
    return get_object_or_404(restrict(RegisteredModel.objects.select_related("team"), user, "view"), name=name)


@login_required
def model_detail(request, name):
    model = _visible_model(request.user, name)
    versions = list(model.versions.order_by("-version").prefetch_related("aliases")[:100])
    deployments = _deployment_api()
    board = deployments.environment_board(model) if deployments else []
    # By id: the history follows the model across renames, never another model of the same name.
    history = audit_events_for(request.user).filter(registered_model_id=model.pk).order_by("-id")[:50]
    return render(
        request,
        "registry/model_detail.html",
        {"model": model, "versions": versions, "board": board, "history": history, "has_governance": bool(deployments),
         "can_rollback": deployments.can_rollback(request.user, model) if deployments else False},
    )


@login_required
def version_detail(request, name, version):
    model = _visible_model(request.user, name)
    mv = get_object_or_404(
        ModelVersion.objects.select_related("registered_model__team", "training_run", "created_by").prefetch_related(
            "aliases", "trained_on__dataset"
        ),
        registered_model=model,
        version=version,
    )
    artifacts = list(mv.artifacts.select_related("blob").order_by("path"))
    parents = list(VersionParent.objects.filter(child=mv).select_related("parent__registered_model"))
    children = list(VersionParent.objects.filter(parent=mv).select_related("child__registered_model"))
    deployments = _deployment_api()
    about_version = Q(object_type="registry.modelversion", object_id=str(mv.pk)) | Q(
        object_type="registry.artifact", object_id__in=[str(a.pk) for a in artifacts]
    )
    if deployments:
        about_version |= Q(object_type="governance.promotionrequest", object_id__in=deployments.version_audit_filter(mv))
    history = audit_events_for(request.user).filter(about_version, registered_model_id=model.pk).order_by("-id")[:50]
    for artifact in artifacts:
        artifact.download_url = _download_url(mv, artifact)
    governance = deployments.version_governance(mv, request.user) if deployments else {}
    return render(
        request,
        "registry/version_detail.html",
        {
            "model": model,
            "mv": mv,
            "artifacts": artifacts,
            "input_rows": schema_rows(mv.schema_format, mv.input_schema),
            "output_rows": schema_rows(mv.schema_format, mv.output_schema),
            "packages": _packages(mv.environment),
            "serving": _flat(mv.serving),
            "lineage": lineage_diagram(mv, parents, children),
            "history": history,
            "governance": governance,
            "reports": _reports(mv, request.user),
        },
    )


def _download_url(mv, artifact) -> str:
    """The registry API's streaming download (GET, with Range); session auth works for the portal user."""
    return reverse("v1:artifact-detail", kwargs={"name": mv.registered_model.name, "version": mv.version, "path": artifact.path})


def _monitoring():
    """Monitoring's report selectors and services, or None: the registry runs without monitoring."""
    try:
        from monitoring.selectors import reports as report_selectors
        from monitoring.services import reports as report_services
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("monitoring"):
            return None
        raise
    return report_selectors, report_services


FIGURES_PER_TAB = 2


def _reports(mv, user):
    """Report tabs of a version: the newest report of each kind with its first figures,
    the datasets to compute from, and whether this user may request one."""
    found = _monitoring()
    if found is None:
        return None
    selectors, _ = found
    from monitoring.choices import ReportKind, ReportStatus
    from monitoring.models import Report

    reports = list(selectors.report_list(user=user, version_id=mv.pk).order_by("-created_at", "-pk")[:50])
    latest = {}
    for report in reports:
        latest.setdefault(report.kind, report)
    done = [r.pk for r in latest.values() if r.status == ReportStatus.SUCCEEDED]
    stored = {pk: (figures, results) for pk, figures, results in Report.objects.filter(pk__in=done).values_list("pk", "figures", "results")}
    tabs = []
    for kind, label in ReportKind.choices:
        report = latest.get(kind)
        figs, more = _tab_figures(selectors, report, *stored.get(report.pk, ({}, {}))) if report else ([], [])
        tabs.append({"kind": kind, "label": label, "report": report, "figures": figs, "more_figures": more})
    # Open the first tab that has something to show.
    selected = next(
        (t["kind"] for t in tabs if t["report"] and t["report"].status == ReportStatus.SUCCEEDED),
        next((t["kind"] for t in tabs if t["report"]), tabs[0]["kind"]),
    )
    for tab in tabs:
        tab["selected"] = tab["kind"] == selected
    can_request = (
        not roles.is_read_only(user)
        and user.has_perm("monitoring.add_report")
        and restrict(RegisteredModel.objects.filter(pk=mv.registered_model_id), user, "change").exists()
    )
    whatif_datasets = []
    if can_request and any(a.kind == "model" for a in mv.artifacts.all()):
        whatif_datasets = list(selectors.dataset_list(user=user, version_id=mv.pk))
    model_card = selectors.modelcard_get(user=user, version_id=mv.pk)
    return {"tabs": tabs, "history": reports, "model_card": model_card, "kinds": ReportKind.choices, "can_request": can_request, "whatif_datasets": whatif_datasets,
            "datasets": list(selectors.dataset_list(user=user, version_id=mv.pk)) if can_request else []}


def _tab_figures(selectors, report, figures: dict, results: dict, prefix: str = "") -> tuple[list[dict], list[dict]]:
    """The first FIGURES_PER_TAB of a report's charts (most telling first) to draw in its tab, and
    the rest as links to the report page, so every chart is reachable from the tab."""
    ordered = selectors.report_figures(report=report, figures=figures or {}, results=results or {})
    shown = [{**entry, "id": f"fig-{prefix}{report.kind}-{i}"} for i, entry in enumerate(ordered[:FIGURES_PER_TAB])]
    return shown, ordered[FIGURES_PER_TAB:]


def _visible_version(user, name, version):
    model = _visible_model(user, name)
    return get_object_or_404(ModelVersion.objects.select_related("registered_model__team"), registered_model=model, version=version)


def _back_to_reports(name, version):
    return redirect(reverse("registry:version-detail", args=[name, version]) + "#reports")


@require_POST
@login_required
def report_request(request, name, version):
    """Queue a report (monitoring's service decides and refuses); HTMX gets the progress block back."""
    found = _monitoring()
    if found is None:
        raise Http404
    selectors, services = found
    mv = _visible_version(request.user, name, version)
    dataset = selectors.dataset_list(user=request.user, version_id=mv.pk).filter(pk=request.POST.get("dataset") or 0).first()
    if dataset is None:
        messages.error(request, "Choose one of this version's evaluation datasets.")
        return _back_to_reports(name, version)
    try:
        report, created = services.report_request(user=request.user, version=mv, dataset=dataset, kind=request.POST.get("kind", ""))
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message)
        messages.error(request, f"Refused: {exc.message}")
        return _back_to_reports(name, version)
    messages.success(request, f"{report.get_kind_display()} report #{report.pk} {'queued' if created else 'already exists for these inputs'}.")
    if htmx_partial(request):
        return _progress_response(request, mv, report)
    return _back_to_reports(name, version)


@login_required
def report_progress(request, name, version, pk):
    """The job-status partial HTMX polls until the report is finished, then its charts."""
    found = _monitoring()
    if found is None:
        raise Http404
    selectors, _ = found
    mv = _visible_version(request.user, name, version)
    report = selectors.report_get(user=request.user, pk=pk)
    if report is None or report.version_id != mv.pk:
        raise Http404
    return _progress_response(request, mv, report)


def _progress_response(request, mv, report):
    from monitoring.models import Report

    selectors, _ = _monitoring()
    status, error = selectors.effective_status(report)
    finished = status in ("succeeded", "failed")
    progress = 100 if status == "succeeded" else (report.job.progress if report.job_id else 0)
    figures, more = [], []
    if status == "succeeded":
        stored = Report.objects.filter(pk=report.pk).values_list("figures", "results").first() or ({}, {})
        figures, more = _tab_figures(selectors, report, *stored, prefix=f"live-{report.pk}-")
    response = render(
        request,
        "registry/partials/report_progress.html",
        {"mv": mv, "model": mv.registered_model, "report": report, "status": status, "error": error,
         "finished": finished, "progress": progress, "figures": figures, "more_figures": more, "oob_messages": htmx_partial(request)},
    )
    response["X-Report-Status"] = str(status)  # lets scripts and tests follow the polling without parsing HTML
    return response


def _parse_value(raw: str):
    """A form value as the model expects it: a number when it reads as one, else the text."""
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if number.is_integer() and "." not in raw else number


@require_POST
@login_required
def whatif_request(request, name, version):
    """What-if for one row of an evaluation dataset: queue the worker job, then poll it."""
    found = _monitoring()
    if found is None:
        raise Http404
    selectors, services = found
    mv = _visible_version(request.user, name, version)
    dataset = selectors.dataset_list(user=request.user, version_id=mv.pk).filter(pk=request.POST.get("dataset") or 0).first()
    if dataset is None:
        raise Http404
    changes = {f: _parse_value(request.POST[f"change__{f}"].strip()) for f in dataset.feature_columns if request.POST.get(f"change__{f}", "").strip()}
    try:
        row_index = int(request.POST.get("row_index", "0"))
    except ValueError:
        row_index = -1
    try:
        if row_index < 0:
            raise ApplicationError("Row number: a whole number from 0.", fields={"row_index": ["a whole number from 0"]})
        job = services.whatif_request(user=request.user, version=mv, dataset=dataset, changes=changes, row_index=row_index)
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message)
        return render(request, "registry/partials/whatif_result.html", {"error": exc.message, "finished": True}, status=400)
    return _whatif_response(request, mv, job)


@login_required
def whatif_result(request, name, version, job_id):
    from modelgate.core.models import Job

    mv = _visible_version(request.user, name, version)
    # Only the person who asked sees the job (it is keyed to the version they could write).
    job = get_object_or_404(Job, pk=job_id, kind="monitoring.what_if", created_by=request.user,
                            object_type="registry.modelversion", object_id=str(mv.pk))
    return _whatif_response(request, mv, job)


def _whatif_response(request, mv, job):
    result = job.result if job.status == "succeeded" else None
    rows = []
    if result:
        original, changed = result["original"], result["changed"]
        for feature in original["row"]:
            rows.append({"feature": feature, "before": original["row"][feature], "after": changed["row"][feature],
                         "changed": original["row"][feature] != changed["row"][feature],
                         "shap_before": original["shap"].get(feature), "shap_after": changed["shap"].get(feature)})
    return render(request, "registry/partials/whatif_result.html", {
        "mv": mv, "model": mv.registered_model, "job": job, "finished": job.is_finished, "result": result, "rows": rows,
        "error": job.error.split("\n\n")[0] if job.status == "failed" else "",
    })


def _flat(value, prefix="") -> list[tuple[str, str]]:
    """A nested JSON descriptor as "input.location: s3://…" lines a person can read."""
    if not isinstance(value, dict):
        return [(prefix or "value", str(value))]
    rows = []
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        rows.extend(_flat(item, name) if isinstance(item, dict) else [(name, str(item))])
    return rows


def _packages(environment) -> list[str]:
    packages = (environment or {}).get("packages") or []
    return [str(p) for p in packages] if isinstance(packages, list) else [f"{k}=={v}" for k, v in dict(packages).items()]


def schema_rows(schema_format: str, schema) -> list[dict]:
    """A schema as rows a non-engineer can read: name, type, required, notes."""
    if not schema or not isinstance(schema, dict):
        return []
    rows = []
    if "fields" in schema:  # Avro record
        for field in schema.get("fields") or []:
            ftype = field.get("type")
            nullable = isinstance(ftype, list) and "null" in ftype
            if isinstance(ftype, list):
                ftype = " or ".join(_avro_type(t) for t in ftype if t != "null")
            else:
                ftype = _avro_type(ftype)
            notes = field.get("doc", "")
            if isinstance(field.get("type"), dict) and field["type"].get("symbols"):
                notes = (notes + " one of: " + ", ".join(field["type"]["symbols"])).strip()
            rows.append({"name": field.get("name", "?"), "type": ftype, "required": not nullable, "notes": notes})
        return rows
    required = set(schema.get("required") or [])
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        ftype = spec.get("type", "any")
        if isinstance(ftype, list):
            ftype = " or ".join(t for t in ftype if t != "null")
        notes = []
        if spec.get("description"):
            notes.append(spec["description"])
        if "enum" in spec:
            notes.append("one of: " + ", ".join(str(v) for v in spec["enum"]))
        if "minimum" in spec:
            notes.append(f"≥ {spec['minimum']}")
        if "maximum" in spec:
            notes.append(f"≤ {spec['maximum']}")
        if spec.get("format"):
            notes.append(f"format {spec['format']}")
        rows.append({"name": name, "type": ftype, "required": name in required, "notes": "; ".join(notes)})
    return rows


def _avro_type(t) -> str:
    if isinstance(t, dict):
        return t.get("logicalType") or t.get("type", "record")
    return str(t)


NODE_W, NODE_H, GAP_Y, COL_X = 200, 40, 14, (10, 290, 570)


def lineage_diagram(mv, parents, children) -> dict:
    """Positions for a server-rendered SVG: inputs (parents, datasets, run, commit) on
    the left, the version in the middle, versions derived from it on the right.
    No script needed, so it renders under the CSP and in screenshots."""
    left = []
    for link in parents:
        p = link.parent
        left.append({"kind": "parent", "label": f"{p.registered_model.name} v{p.version}", "sub": link.get_relation_display(),
                     "url": f"/registry/models/{p.registered_model.name}/versions/{p.version}/"})
    for dv in mv.trained_on.all():
        left.append({"kind": "dataset", "label": f"{dv.dataset.name}@{dv.version}", "sub": "training data"})
    if mv.training_run_id:
        left.append({"kind": "run", "label": f"run {mv.training_run.external_id}"[:28], "sub": "training run"})
    elif mv.run_id:
        left.append({"kind": "run", "label": f"run {mv.run_id}"[:28], "sub": "training run"})
    commit = mv.source_commit or (mv.training_run.commit if mv.training_run_id else "")
    if commit:
        left.append({"kind": "commit", "label": f"commit {commit[:10]}", "sub": mv.source_repository[:30] or "source"})
    right = [
        {"kind": "parent", "label": f"{c.child.registered_model.name} v{c.child.version}", "sub": c.get_relation_display().lower().replace("from", "into"),
         "url": f"/registry/models/{c.child.registered_model.name}/versions/{c.child.version}/"}
        for c in children
    ]
    rows = max(len(left), len(right), 1)
    height = rows * (NODE_H + GAP_Y) + GAP_Y
    center = {"kind": "self", "label": str(mv)[:28], "sub": mv.get_framework_display(), "x": COL_X[1], "y": (height - NODE_H) // 2}
    edges = []
    for column, nodes in ((0, left), (2, right)):
        offset = (height - len(nodes) * (NODE_H + GAP_Y) + GAP_Y) // 2
        for i, node in enumerate(nodes):
            node["x"] = COL_X[column]
            node["y"] = offset + i * (NODE_H + GAP_Y)
            if column == 0:
                edges.append({"x1": node["x"] + NODE_W, "y1": node["y"] + NODE_H // 2, "x2": center["x"], "y2": center["y"] + NODE_H // 2})
            else:
                edges.append({"x1": center["x"] + NODE_W, "y1": center["y"] + NODE_H // 2, "x2": node["x"], "y2": node["y"] + NODE_H // 2})
    return {"nodes": [*left, center, *right], "edges": edges, "width": COL_X[2] + NODE_W + 10, "height": height,
            "w": NODE_W, "h": NODE_H, "empty": not left and not right}
