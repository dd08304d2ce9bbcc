"""Validation of what a version declares: input/output schemas (JSON Schema or
an Avro record schema), sample rows, metrics, params, environment and the
serving descriptor. Each check raises ``ApplicationError`` naming the field, so
the API answers 400 with ``fields`` and nothing is written.
"""

from __future__ import annotations

import math
import re
from typing import Any

import fastavro
import jsonschema
from fastavro.validation import ValidationError as AvroValidationError

from modelgate.core.errors import ApplicationError
from registry.choices import SchemaFormat, ServingMode

_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!*_-]+$")
_PYTHON = re.compile(r"^3\.\d{1,2}(\.\d{1,3})?$")
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")

# Data transport descriptors: how a batch, REST or streaming deployment gets its
# rows and where it puts its scores.
TRANSPORT_SCHEMA = {
    "type": "object",
    "required": ["type", "location"],
    "properties": {
        "type": {"type": "string", "enum": ["file", "s3", "http", "kafka", "database", "other"]},
        "location": {"type": "string", "minLength": 1, "maxLength": 1000},
        "format": {"type": "string", "maxLength": 50},
    },
    "additionalProperties": True,
}
SERVING_SCHEMA = {
    "type": "object",
    "required": ["mode"],
    "properties": {
        "mode": {"type": "string", "enum": [m.value for m in ServingMode]},
        "input": TRANSPORT_SCHEMA,
        "output": TRANSPORT_SCHEMA,
    },
    "additionalProperties": True,
}


def _fail(field: str, message: str) -> ApplicationError:
    return ApplicationError(f"{field}: {message}", code="invalid", fields={field: [message]})


def validate_schema(schema_format: str, schema: Any, *, field: str = "input_schema") -> None:
    """Refuse a malformed schema. JSON Schema: checked against its metaschema;
    Avro: parsed by fastavro and required to be a record."""
    if schema is None:
        return
    if schema_format == SchemaFormat.JSON_SCHEMA:
        if not isinstance(schema, dict):
            raise _fail(field, "A JSON Schema must be an object.")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise _fail(field, f"Not a valid JSON Schema: {exc.message}") from None
    elif schema_format == SchemaFormat.AVRO:
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise _fail(field, "An Avro schema must be a record schema ({\"type\": \"record\", ...}).")
        try:
            fastavro.parse_schema(schema, _force=True)
        except Exception as exc:  # fastavro raises several unrelated types for bad schemas
            raise _fail(field, f"Not a valid Avro record schema: {exc}") from None
    else:
        raise _fail("schema_format", f"Unknown schema format {schema_format!r}.")


def row_errors(schema_format: str, schema: dict, row: Any) -> list[str]:
    """Why ``row`` does not conform to ``schema`` (empty when it does)."""
    if schema_format == SchemaFormat.JSON_SCHEMA:
        validator = jsonschema.validators.validator_for(schema)(schema)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(row)'}: {error.message}"
            for error in sorted(validator.iter_errors(row), key=lambda e: list(map(str, e.absolute_path)))
        ]
    parsed = fastavro.parse_schema(schema, _force=True)
    try:
        fastavro.validation.validate(row, parsed, raise_errors=True)
    except AvroValidationError as exc:
        return [str(error) for error in exc.errors] or [str(exc)]
    return []


def schema_fields(schema_format: str, schema: dict | None) -> list[dict]:
    """Flat list of ``{"name", "type", "required"}`` for display (portal, diffs)."""
    if not schema:
        return []
    if schema_format == SchemaFormat.AVRO:
        out = []
        for field in schema.get("fields", []):
            kind = field.get("type")
            nullable = isinstance(kind, list) and "null" in kind
            out.append({"name": field.get("name"), "type": kind if isinstance(kind, str) else str(kind), "required": not nullable})
        return out
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": str(spec.get("type", "any")) if isinstance(spec, dict) else "any", "required": name in required}
        for name, spec in (schema.get("properties") or {}).items()
    ]


def validate_metrics(metrics: Any, *, field: str = "metrics") -> None:
    if not isinstance(metrics, dict):
        raise _fail(field, "Must be an object of name → number.")
    for name, value in metrics.items():
        if not _METRIC_NAME.match(name):
            raise _fail(field, f"Metric name {name!r} must be 1–128 letters, digits or '_.:/-'.")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(field, f"Metric {name!r} must be a finite number.")


def validate_params(params: Any, *, field: str = "params") -> None:
    if not isinstance(params, dict):
        raise _fail(field, "Must be an object of name → value.")
    for name, value in params.items():
        if not _METRIC_NAME.match(name):
            raise _fail(field, f"Parameter name {name!r} must be 1–128 letters, digits or '_.:/-'.")
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise _fail(field, f"Parameter {name!r} must be a string, number, boolean or null.")


def validate_tags(tags: Any, *, field: str = "tags") -> None:
    if not isinstance(tags, dict):
        raise _fail(field, "Must be an object of key → string.")
    for key, value in tags.items():
        if not _METRIC_NAME.match(key):
            raise _fail(field, f"Tag key {key!r} must be 1–128 letters, digits or '_.:/-'.")
        if not isinstance(value, str) or len(value) > 5000:
            raise _fail(field, f"Tag {key!r} must be a string of at most 5000 characters.")


def validate_environment(environment: Any, *, field: str = "environment") -> None:
    """``{"python": "3.11", "packages": ["scikit-learn==1.5.2", ...]}``: packages pinned with ``==``."""
    if not isinstance(environment, dict):
        raise _fail(field, "Must be an object with 'python' and 'packages'.")
    if not environment:
        return
    python = environment.get("python")
    if python is not None and (not isinstance(python, str) or not _PYTHON.match(python)):
        raise _fail(field, "python must be a version such as '3.11' or '3.11.9'.")
    packages = environment.get("packages", [])
    if not isinstance(packages, list):
        raise _fail(field, "packages must be a list of 'name==version' strings.")
    for package in packages:
        if not isinstance(package, str) or not _PINNED.match(package):
            raise _fail(field, f"Package {package!r} must be pinned as 'name==version'.")


def validate_serving(serving: Any, *, field: str = "serving") -> None:
    if serving in (None, {}):
        return
    validator = jsonschema.Draft202012Validator(SERVING_SCHEMA)
    errors = sorted(validator.iter_errors(serving), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path)
        raise _fail(field, f"{where + ': ' if where else ''}{error.message}")
