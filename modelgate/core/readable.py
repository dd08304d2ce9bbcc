"""Values as people read them: rounded numbers with their unit, dates in words,
small tables instead of Python dicts. Pure Python, shared by every app's pages
and by the evidence pack (template filters in ``core/templatetags/readable.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

# Units of the figures the portal shows, by the suffix or name they carry.
UNIT_SUFFIXES = (("_ms", "ms"), ("_seconds", "s"), ("_s", "s"), ("_pct", "%"), ("_percent", "%"))


def number(value, digits: int = 3) -> str:
    """``0.8704`` → ``0.870``, ``38.0`` → ``38``, ``37064.2`` → ``37,064``: three decimals
    for fractions, none for large figures, thousands separated."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and parse_datetime(value) is not None:
        return when(value)  # a moment frozen in evidence as ISO text
    if not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "—"
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}".removesuffix(".0")
    if size >= 1e-3:
        return f"{value:.{digits}f}"
    return f"{value:.1e}"


def unit_for(name: str) -> str:
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def quantity(value, unit: str = "", digits: int = 3) -> str:
    """A number with its unit: ``38 ms``, ``0.870``, ``12 %``."""
    if unit and isinstance(value, float) and value.is_integer():
        value = int(value)  # 38.0 ms reads 38 ms
    text = number(value, digits)
    if not unit or text == "—":
        return text
    return f"{text} {unit}"


def when(value) -> str:
    """``7 Dec 2026 02:29 UTC``; accepts datetimes, dates and ISO strings (as frozen in evidence)."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return f"{value.day} {value:%b %Y %H:%M} UTC"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


LABELS = {"ci_run_id": "CI run", "result_id": "CI result #", "report_id": "Report #", "deployment_id": "Deployment #",
          "min_group_n": "Smallest group judged (rows)", "ratio_to_max": "Ratio to the most selected group"}


def label(key: str) -> str:
    """``dataset_sha256`` → ``Dataset SHA-256``, ``p95_ms`` → ``p95``."""
    if key in LABELS:
        return LABELS[key]
    for suffix, _unit in UNIT_SUFFIXES:
        if key.endswith(suffix):
            key = key.removesuffix(suffix)
            break
    words = key.replace("_", " ").strip()
    words = words.replace("sha256", "SHA-256").replace(" id", " #").replace("ci run", "CI run")
    return words[:1].upper() + words[1:]


def cell(key: str, value) -> str:
    """One value of a table, with the unit its key implies; hashes shortened, lists joined."""
    if isinstance(value, list | tuple):
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value) and len(value) == 2:
            return f"{number(value[0])} – {number(value[1])}"  # an interval
        return ", ".join(cell(key, v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{label(k)} {cell(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, str):
        if "sha256" in key and len(value) == 64:
            return value[:12] + "…"
        if key.endswith("_at") or key in ("finished_at", "evaluated_at"):
            return when(value)
        return value
    return quantity(value, unit_for(key))


def table(data: dict) -> dict:
    """Evidence as small tables: scalar entries as one two-column table, and each entry whose
    value maps names to records (groups, CI kinds) as a table with one row per name.

    Returns ``{"facts": [(label, text)], "tables": [{"title", "columns", "rows"}]}``.
    """
    facts, tables = [], []
    if _records(data):  # the whole evidence is one table (e.g. CI results per test kind)
        return {"facts": [], "tables": [_table("", data)]}
    for key, value in (data or {}).items():
        if _records(value):
            tables.append(_table(label(key), value))
        else:
            facts.append((label(key), cell(key, value)))
    return {"facts": facts, "tables": tables}


def _records(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())


def _table(title: str, records: dict) -> dict:
    columns: list[str] = []
    for record in records.values():
        columns += [c for c in record if c not in columns]
    rows = [[name, *[cell(c, record.get(c)) for c in columns]] for name, record in records.items()]
    return {"title": title, "columns": ["", *[label(c) for c in columns]], "rows": rows}


def export_filename(prefix: str, filters: dict, extension: str, now=None) -> str:
    """``modelgate-audit_model-credit-scorer_action-promotion_since-2026-12-01_2026-12-07.csv``: the filters
    that made the file and the day it was exported, so two exports never read alike."""
    parts = [prefix]
    for key, value in filters.items():
        if value not in (None, ""):
            parts.append(f"{slugify(key.replace('_', '-'))}-{slugify(str(value)[:40].replace('.', '-').replace(':', '-')) or 'x'}")
    parts.append(f"{(now or timezone.now()).astimezone(UTC):%Y-%m-%d}")
    return "_".join(parts) + f".{extension}"
