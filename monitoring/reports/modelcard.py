"""Model cards in the field names of the Model Card Toolkit JSON schema (v0.0.2).

``generate`` derives what the registry and the reports know (model details,
parameters, quantitative analysis with per-slice metrics); ``merge`` lays the
parts a person writes (intended use, limitations, ethical considerations…) over
it. No ML library is imported here: the web process may call it.
"""

from __future__ import annotations

import copy

SCHEMA_VERSION = "0.0.2"
# Parts a person must write; the generator never overwrites them.
AUTHORED_FIELDS = {
    "model_details": ("overview", "documentation", "licenses", "references", "citations"),
    "considerations": ("users", "use_cases", "limitations", "tradeoffs", "ethical_considerations"),
}


def generate(*, version: dict, reports: list[dict]) -> dict:
    """``version``: name, number, framework, created_at, owners, metrics, params, source, datasets.
    ``reports``: succeeded reports as {"id", "kind", "results", "dataset"}."""
    metrics = [
        {"type": name, "value": str(value), "slice": "overall"} for name, value in sorted((version.get("metrics") or {}).items())
    ]
    graphics = []
    for report in reports:
        if report["kind"] == "fairness":
            for grouping in report["results"].get("groupings", []):
                for group in grouping["groups"]:
                    m = group["metrics"]
                    for key in ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "mean_absolute_error"):
                        if m.get(key) is None:
                            continue
                        entry = {"type": key, "value": f"{m[key]:.6g}", "slice": group["group"]}
                        interval = (m.get("intervals") or {}).get(key)
                        if interval:
                            entry["confidence_interval"] = {"lower_bound": f"{interval[0]:.6g}", "upper_bound": f"{interval[1]:.6g}"}
                        metrics.append(entry)
                for name, value in grouping.get("disparities", {}).items():
                    if value is not None:
                        metrics.append({"type": name, "value": f"{value:.6g}", "slice": " × ".join(grouping["sensitive_features"])})
        elif report["kind"] == "explainability":
            for item in report["results"].get("global_importance", [])[:10]:
                metrics.append({"type": "mean_abs_shap", "value": f"{item['mean_abs_shap']:.6g}", "slice": f"feature={item['feature']}"})
        elif report["kind"] == "drift":
            for item in report["results"].get("features", []):
                metrics.append({"type": "psi", "value": f"{item['psi']:.6g}", "slice": f"feature={item['feature']}"})
        graphics.append({"name": f"{report['kind']} report #{report['id']}"})
    datasets = [
        {"name": d["name"], "link": d.get("sha256", ""), "sensitive": {"sensitive_data": list(d.get("sensitive", []))}}
        for d in version.get("datasets", [])
    ]
    # The training run (from the team's MLflow tracking server): its link as a reference,
    # its dataset inputs as data, its metrics sliced "training run".
    run = version.get("training_run") or {}
    references = [{"reference": run["url"]}] if run.get("url") else []
    for d in run.get("datasets", []):
        context = f" ({d['context']})" if d.get("context") else ""
        datasets.append({"name": f"{d.get('name') or 'dataset'}@{d.get('digest', '')}{context}", "link": d.get("source", ""),
                         "sensitive": {"sensitive_data": []}})
    metrics += [
        {"type": name, "value": str(value), "slice": f"training run {run['external_id']}"}
        for name, value in sorted((run.get("metrics") or {}).items())
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": version["name"],
            "version": {"name": str(version["number"]), "date": version.get("created_at", "")},
            "owners": [{"name": owner, "contact": ""} for owner in version.get("owners", [])],
            "path": version.get("source", ""),
            **({"references": references} if references else {}),
        },
        "model_parameters": {
            "model_architecture": version.get("framework", ""),
            "data": datasets,
            "input_format": version.get("input_format", ""),
            "output_format": version.get("output_format", ""),
        },
        "quantitative_analysis": {
            "performance_metrics": metrics,
            "graphics": {"description": "Figures are stored with the source reports.", "collection": graphics},
        },
        "considerations": {},
    }


def merge(generated: dict, authored: dict) -> dict:
    card = copy.deepcopy(generated) or {"schema_version": SCHEMA_VERSION}
    for section, fields in AUTHORED_FIELDS.items():
        for name in fields:
            value = (authored.get(section) or {}).get(name)
            if value not in (None, "", []):
                if name == "references":  # the generated ones (the training run) stay, authored ones follow
                    value = [*card.get(section, {}).get(name, []), *value]
                card.setdefault(section, {})[name] = value
    return card


def validate_authored(authored) -> dict:
    """Field name → list of errors, for the parts a person may edit."""
    errors: dict[str, list[str]] = {}
    if not isinstance(authored, dict):
        return {"authored": ["must be an object"]}
    for section, content in authored.items():
        if section not in AUTHORED_FIELDS:
            errors[section] = [f"not editable; editable sections: {', '.join(AUTHORED_FIELDS)}"]
            continue
        if not isinstance(content, dict):
            errors[section] = ["must be an object"]
            continue
        for name, value in content.items():
            key = f"{section}.{name}"
            if name not in AUTHORED_FIELDS[section]:
                errors[key] = [f"not editable; editable fields: {', '.join(AUTHORED_FIELDS[section])}"]
            elif name == "overview" or name == "documentation":
                if not isinstance(value, str):
                    errors[key] = ["must be text"]
            elif not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                errors[key] = ["must be a list of objects, e.g. [{\"description\": \"…\"}]"]
    return errors
