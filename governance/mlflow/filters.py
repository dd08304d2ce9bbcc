"""MLflow search: the ``filter`` grammar, ``order_by`` and opaque page tokens.

Supported (what the MLflow client and its users send)::

    name = 'x'   name != 'x'   name LIKE 'fraud-%'   name ILIKE '%SCORE%'
    tags.team = 'credit'   tags.`my key` LIKE 'v%'   (tags.k != 'v': other value or no such tag)
    versions also: run_id = 'r'   run_id IN ('a', 'b')   source_path = 's3://…'
                   version_number >= 3
    conditions joined with AND

Anything else (OR, unknown keys or comparators) is refused with
INVALID_PARAMETER_VALUE rather than silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from governance.mlflow.wire import invalid

MAX_RESULTS_CAP = 1000  # no 200,000-row pages: larger requests are clamped and paged

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<punct>[(),])
      | (?P<ident>(?:tags?|attributes?)\.`[^`]+`|[A-Za-z_][A-Za-z0-9_.]*|`[^`]+`)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Kind:
    """Which keys a search accepts and the ORM path each maps to."""

    fields: dict  # mlflow key -> (orm path, allowed comparators)
    order_fields: dict  # mlflow order key -> orm path
    default_order: tuple


_STR = {"=", "!=", "LIKE", "ILIKE"}
_NUM = {"=", "!=", "<", ">", "<=", ">="}

MODELS = Kind(
    fields={"name": ("name", _STR)},
    order_fields={"name": "name", "timestamp": "created_at", "creation_timestamp": "created_at",
                  "last_updated_timestamp": "updated_at"},
    default_order=("name",),
)
VERSIONS = Kind(
    fields={
        "name": ("registered_model__name", _STR),
        "run_id": ("run_id", {"=", "!=", "IN"}),
        "source_path": ("source_uri", _STR),
        "version_number": ("version", _NUM),
    },
    order_fields={"name": "registered_model__name", "version_number": "version", "creation_timestamp": "created_at",
                  "timestamp": "created_at", "last_updated_timestamp": "updated_at"},
    default_order=("-updated_at", "registered_model__name", "-version"),
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise invalid(f"Invalid filter {text!r}: cannot parse near {text[pos:pos + 20]!r}.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "ident" and value.upper() in ("AND", "LIKE", "ILIKE", "IN", "NOT", "OR"):
            kind = "keyword"
            value = value.upper()
        out.append((kind, value))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _like_regex(pattern: str) -> str:
    """SQL LIKE → an anchored regex ('%' any run, '_' one character)."""
    out = []
    for char in pattern:
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(out) + "$"


@dataclass(frozen=True)
class Condition:
    """One parsed filter condition: ``lookup`` (ORM path and lookup) compared with ``value``."""

    lookup: str
    value: object
    negate: bool = False
    tag: str | None = None  # compare the text of this tag (annotated) instead of a column
    or_untagged: bool = False  # tags.k != 'v' also matches rows without the tag, as in MLflow


def _condition(path: str, op: str, value, **extra) -> Condition:
    if op == "=":
        return Condition(path, value, **extra)
    if op == "!=":
        return Condition(path, value, negate=True, **extra)
    if op in ("LIKE", "ILIKE"):
        if "%" not in value and "_" not in value:
            return Condition(f"{path}__iexact" if op == "ILIKE" else path, value, **extra)
        return Condition(f"{path}__{'iregex' if op == 'ILIKE' else 'regex'}", _like_regex(value), **extra)
    if op == "IN":
        return Condition(f"{path}__in", value, **extra)
    lookup = {"<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}[op]
    return Condition(f"{path}__{lookup}", value, **extra)


def apply_conditions(queryset: QuerySet, conditions: list[Condition]) -> QuerySet:
    annotations = {}
    for number, condition in enumerate(conditions):
        if condition.tag is not None:
            # Cast: plain text lookups (a bare key transform compares JSON values on SQLite).
            annotations[f"_mlflow_tag{number}"] = Cast(KeyTextTransform(condition.tag, "tags"), output_field=TextField())
    if annotations:
        queryset = queryset.annotate(**annotations)
    for number, condition in enumerate(conditions):
        path = condition.lookup.replace("<tag>", f"_mlflow_tag{number}")
        q = Q(**{path: condition.value})
        if condition.negate:
            q = ~q
        if condition.or_untagged:
            q = Q(**{f"_mlflow_tag{number}__isnull": True}) | q
        queryset = queryset.filter(q)
    return queryset


def apply_filter(queryset: QuerySet, filter_string: str | None, kind: Kind) -> QuerySet:
    return apply_conditions(queryset, parse_filter(filter_string, kind))


def parse_filter(filter_string: str | None, kind: Kind) -> list[Condition]:
    if not filter_string or not filter_string.strip():
        return []
    tokens = _tokens(filter_string)
    conditions: list[Condition] = []
    i = 0
    while i < len(tokens):
        if conditions:
            if tokens[i] != ("keyword", "AND"):
                raise invalid(f"Invalid filter {filter_string!r}: conditions must be joined with AND (OR is not supported).")
            i += 1
        if i >= len(tokens) or tokens[i][0] != "ident":
            raise invalid(f"Invalid filter {filter_string!r}: expected a key such as name or tags.<key>.")
        key = tokens[i][1]
        i += 1
        op_parts = []
        while i < len(tokens) and (tokens[i][0] == "op" or tokens[i][1] in ("LIKE", "ILIKE", "IN", "NOT")):
            op_parts.append(tokens[i][1])
            i += 1
        op = " ".join(op_parts)
        if i >= len(tokens):
            raise invalid(f"Invalid filter {filter_string!r}: missing value after {key} {op}.")
        if op == "IN":
            if tokens[i] != ("punct", "("):
                raise invalid(f"Invalid filter {filter_string!r}: IN needs a list such as ('a', 'b').")
            i += 1
            values = []
            while i < len(tokens) and tokens[i] != ("punct", ")"):
                if tokens[i][0] == "string":
                    values.append(_unquote(tokens[i][1]))
                elif tokens[i] != ("punct", ","):
                    raise invalid(f"Invalid filter {filter_string!r}: IN lists hold quoted strings.")
                i += 1
            if i >= len(tokens):
                raise invalid(f"Invalid filter {filter_string!r}: unclosed IN list.")
            i += 1
            value = values
        else:
            lexeme_kind, raw = tokens[i]
            i += 1
            if lexeme_kind == "string":
                value = _unquote(raw)
            elif lexeme_kind == "number":
                value = raw
            else:
                raise invalid(f"Invalid filter {filter_string!r}: values are quoted strings or numbers.")
        lowered = key.lower()
        if lowered.startswith(("tags.", "tag.")):
            tag = key.split(".", 1)[1].strip("`")
            if op not in _STR:
                raise invalid(f"Invalid filter {filter_string!r}: tags support =, !=, LIKE and ILIKE.")
            # As MLflow, != also matches untagged rows (the client itself sends tag.`mlflow.prompt.is_prompt` != 'true').
            conditions.append(_condition("<tag>", op, str(value), tag=tag, or_untagged=op == "!="))
            continue
        lowered = lowered.removeprefix("attributes.").removeprefix("attribute.").strip("`")
        if lowered not in kind.fields:
            raise invalid(
                f"Invalid filter {filter_string!r}: unsupported key {key!r} "
                f"(supported: {', '.join(sorted(kind.fields))}, tags.<key>)."
            )
        path, allowed = kind.fields[lowered]
        if op not in allowed:
            raise invalid(f"Invalid filter {filter_string!r}: {key} does not support {op or 'that comparator'!r}.")
        if lowered == "version_number":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise invalid(f"Invalid filter {filter_string!r}: version_number compares with an integer.") from None
            if not -(2**31) <= value < 2**31:
                raise invalid(f"Invalid filter {filter_string!r}: version_number is out of range.")
        elif op != "IN" and not isinstance(value, str):
            raise invalid(f"Invalid filter {filter_string!r}: {key} compares with a quoted string.")
        conditions.append(_condition(path, op, value))
    return conditions


def order_by(values, kind: Kind) -> list[str]:
    """``["name ASC", "last_updated_timestamp DESC"]`` → ORM ordering with a unique tie-break."""
    out: list[str] = []
    for raw in values or []:
        parts = str(raw).strip().split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise invalid(f"Invalid order_by clause {raw!r}: use '<key> [ASC|DESC]'.")
        key = parts[0].strip("`").lower().removeprefix("attributes.").removeprefix("attribute.")
        if key not in kind.order_fields:
            raise invalid(f"Invalid order_by clause {raw!r}: supported keys are {', '.join(sorted(kind.order_fields))}.")
        path = kind.order_fields[key]
        descending = len(parts) == 2 and parts[1].upper() == "DESC"
        out.append(f"-{path}" if descending else path)
    if not out:
        out = list(kind.default_order)
    return [*out, "pk"]  # a total order, so offset pages never skip or repeat rows


def max_results(raw, default: int) -> int:
    if raw in (None, ""):
        return min(default, MAX_RESULTS_CAP)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value {raw!r} for parameter 'max_results': an integer is required.") from None
    if value < 1:
        raise invalid("Invalid value for parameter 'max_results': it must be at least 1.")
    return min(value, MAX_RESULTS_CAP)


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(data["offset"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise invalid("Invalid page_token: use the next_page_token of a previous search.") from None
    if offset < 0:
        raise invalid("Invalid page_token: use the next_page_token of a previous search.")
    return offset
