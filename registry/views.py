"""Portal pages of the registry: the model catalog, a model, a version.

Thin: every read goes through ``restrict()`` first (rows outside the user's
teams answer 404), lists are built with a fixed number of queries whatever
their length, and writes go through the apps' service functions. Sections,
columns and filters owned by higher apps come through ``registry.extensions``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from modelgate.core.errors import ApplicationError
from modelgate.core.models import Team
from modelgate.core.permissions import restrict
from modelgate.core.portal import paginate
from modelgate.core.selectors import audit_events_for
from registry import extensions
from registry import selectors as registry_selectors
from registry import services as registry_services
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
    # Per-model subqueries, not a GROUP BY over every version of every visible model:
    # PostgreSQL computes them for the page's rows only (the newest version and the count
    # come from the (model, version) index).
    versions = ModelVersion.objects.filter(registered_model=OuterRef("pk"))
    latest = versions.order_by("-version")
    qs = (
        restrict(RegisteredModel.objects.all(), user, "view")
        .select_related("team")
        .annotate(
            version_count=Coalesce(Subquery(versions.order_by().values("registered_model").annotate(n=Count("pk")).values("n")), 0),
            latest_version=Subquery(latest.values("version")[:1]),
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
    for catalog_filter in extensions.CATALOG_FILTERS:
        if params.get(catalog_filter.param):
            qs = catalog_filter.apply(qs, params[catalog_filter.param])
    order = SORTS.get(params.get("sort", ""), SORTS["name"])[0]
    return qs.order_by(order, "pk")


@login_required
def model_list(request):
    qs = _catalog_queryset(request.user, request.GET)
    context = paginate(request, qs)
    rows = list(context["page_obj"].object_list)
    # Columns other apps add (governance: the version serving in each environment), a fixed number of queries each.
    model_ids = [m.pk for m in rows]
    column_sets = [columns.load(model_ids) for columns in extensions.CATALOG_COLUMNS]
    status_labels, framework_labels = dict(VersionStatus.choices), dict(Framework.choices)
    for row in rows:
        row.latest_status_label = status_labels.get(row.latest_status, "")
        row.latest_framework_label = framework_labels.get(row.latest_framework, "")
        row.extra_cells = [cell for headers, by_model in column_sets for cell in by_model.get(row.pk) or [None] * len(headers)]
    extra_filters = [
        {"param": f.param, "label": f.label, "any_label": f.any_label, "choices": f.choices(), "value": request.GET.get(f.param, "")}
        for f in extensions.CATALOG_FILTERS
    ]
    context.update(
        {
            "models": rows,
            "teams": Team.objects.all(),
            "frameworks": Framework.choices,
            "statuses": VersionStatus.choices,
            "extra_filters": [f for f in extra_filters if f["choices"]],
            "extra_headers": [header for headers, _ in column_sets for header in headers],
            "sorts": [(key, label) for key, (_, label) in SORTS.items()],
            "filters": {k: request.GET.get(k, "") for k in ("q", "team", "tag", "framework", "status", "sort")},
        }
    )
    context["filtered"] = any(v for k, v in context["filters"].items() if k != "sort") or any(f["value"] for f in extra_filters)
    return render(request, "registry/model_list.html", context)


def _visible_model(user, name):
    return get_object_or_404(restrict(RegisteredModel.objects.select_related("team"), user, "view"), name=name)


@login_required
def model_detail(request, name):
    model = _visible_model(request.user, name)
    versions = list(model.versions.order_by("-version").prefetch_related("aliases")[:100])
    # By id: the history follows the model across renames, never another model of the same name.
    history = audit_events_for(request.user).filter(registered_model_id=model.pk).order_by("-id")[:50]
    context = {"model": model, "versions": versions, "history": history}
    context["panels"] = render_panels(request, extensions.MODEL_PANELS, model, context)
    return render(request, "registry/model_detail.html", context)


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
    about_version = Q(object_type="registry.modelversion", object_id=str(mv.pk)) | Q(
        object_type="registry.artifact", object_id__in=[str(a.pk) for a in artifacts]
    )
    about_version |= extensions.version_history_filter(mv)
    history = audit_events_for(request.user).filter(about_version, registered_model_id=model.pk).order_by("-id")[:50]
    for artifact in artifacts:
        artifact.download_url = _download_url(mv, artifact)
    run_resolution = registry_selectors.training_run_resolution(version=mv)
    context = {
        "model": model,
        "mv": mv,
        "artifacts": artifacts,
        "input_rows": schema_rows(mv.schema_format, mv.input_schema),
        "output_rows": schema_rows(mv.schema_format, mv.output_schema),
        "packages": _packages(mv.environment),
        "serving": _flat(mv.serving),
        "lineage": lineage_diagram(mv, parents, children),
        "run_resolution": run_resolution,
        "can_resolve_run": bool(run_resolution) and run_resolution["state"] in ("failed", "not_requested")
        and restrict(ModelVersion.objects.filter(pk=mv.pk), request.user, "change").exists(),
        "history": history,
    }
    context["panels"] = render_panels(request, extensions.VERSION_PANELS, mv, context)
    return render(request, "registry/version_detail.html", context)


def render_panels(request, point, obj, page_context: dict) -> dict[str, list[str]]:
    """The sections higher apps add to a page, rendered to HTML and grouped by position."""
    return {
        position: [
            mark_safe(render_to_string(panel.template, {**page_context, **context}, request=request))  # noqa: S308 (our own template's output)
            for panel, context in entries
        ]
        for position, entries in extensions.panels_for(point, obj, request.user).items()
    }


def _download_url(mv, artifact) -> str:
    """The registry API's streaming download (GET, with Range); session auth works for the portal user."""
    return reverse("v1:artifact-detail", kwargs={"name": mv.registered_model.name, "version": mv.version, "path": artifact.path})


@require_POST
@login_required
def training_run_resolve(request, name, version):
    """Ask the tracking server again for the version's training run (the service decides and refuses)."""
    model = _visible_model(request.user, name)
    mv = get_object_or_404(ModelVersion.objects.select_related("registered_model__team"), registered_model=model, version=version)
    try:
        registry_services.training_run_resolve_again(user=request.user, version=mv)
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from None
        if exc.status_code == 404:
            raise Http404(exc.message) from None
        messages.error(request, f"Refused: {exc.message}")
    else:
        messages.success(request, "Asking the tracking server again for the training run.")
    return redirect(reverse("registry:version-detail", args=[name, version]) + "#training-run")


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
        run = mv.training_run
        left.append({"kind": "run", "label": f"run {run.name or run.external_id}"[:28], "sub": f"training run {run.external_id}",
                     "url": run.url})
        # Dataset inputs as the tracking server reported them (not registry datasets: no page of ours).
        for ds in run.datasets:
            left.append({"kind": "dataset", "label": f"{ds.get('name') or 'dataset'}@{(ds.get('digest') or '')[:8]}"[:28],
                         "sub": f"{ds.get('context') or 'input'} data (tracking server)"})
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
