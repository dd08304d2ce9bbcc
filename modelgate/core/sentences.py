"""Audit events in sentences: "bea approved credit-scoring v2 for Prod: “Reviewed the evidence”".

Plumbing knows no app's actions: each app registers its own in its ``AppConfig.ready()``
with ``register_audit_actions({action: (label, sentence)})``; ``label`` names the action
in the audit trail's dropdown, ``sentence(event, said)`` writes the event after the actor
("approved credit-scoring v2 for Prod"). An action nobody registered still reads as a
sentence built from its name. Events without an actor are credited to "system".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelgate.core import readable

SYSTEM = "system"


@dataclass(frozen=True)
class ActionWords:
    label: str
    sentence: Callable | None = None  # sentence(event, said) -> "approved …"


_ACTIONS: dict[str, ActionWords] = {}
# Prefixes (the first part of an action) named for the dropdown's groups: "promotion" → "Promotion requests".
_GROUPS: dict[str, str] = {}


def register_audit_actions(actions: dict, *, group: tuple[str, str] | None = None) -> None:
    for action, (label, sentence) in actions.items():
        _ACTIONS[action] = ActionWords(label, sentence)
    if group is not None:
        _GROUPS[group[0]] = group[1]


def actor(event) -> str:
    return event.actor_username or SYSTEM


def after(event, field: str, default=None):
    """The value a change set ``field`` to (events store {"field": {"before", "after"}})."""
    changes = event.changes or {}
    change = changes.get(field)
    if isinstance(change, dict) and "after" in change:
        return change["after"]
    if field in changes and not isinstance(change, dict):  # a plain value (e.g. an acknowledgement's note)
        return change
    return default


def before(event, field: str, default=None):
    change = (event.changes or {}).get(field)
    if isinstance(change, dict) and "before" in change:
        return change["before"]
    return default


def quoted(text) -> str:
    """A person's words as a short quotation, or nothing."""
    text = (text or "").strip()
    if not text:
        return ""
    return f": “{text[:200]}{'…' if len(text) > 200 else ''}”"


def sentence(event) -> str:
    words = _ACTIONS.get(event.action)
    text = ""
    if words is not None and words.sentence is not None:
        try:
            text = words.sentence(event, _Said(event))
        except (KeyError, TypeError, ValueError, AttributeError):  # an old event in another shape: fall back
            text = ""
    if not text:
        verb = event.action.rsplit(".", 1)[-1].replace("_", " ")
        thing = event.object_repr or event.object_type or ""
        text = f"{verb} {thing}".strip() + (f" ({_changed(event)})" if event.changes else "")
    return f"{actor(event)} {text}"


def _changed(event) -> str:
    return ", ".join(f"{readable.label(k)} {readable.cell(k, v.get('after') if isinstance(v, dict) else v)}"
                     for k, v in list((event.changes or {}).items())[:3])


class _Said:
    """Shortcuts for sentence functions: ``said.after("comment")``, ``said.quote("comment")``."""

    def __init__(self, event):
        self.event = event

    def after(self, field, default=None):
        return after(self.event, field, default)

    def before(self, field, default=None):
        return before(self.event, field, default)

    def quote(self, field):
        return quoted(after(self.event, field))


def is_action(value: str) -> bool:
    """A registered action name (not a prefix such as "promotion.")."""
    return value in _ACTIONS


def label(action: str) -> str:
    words = _ACTIONS.get(action)
    return words.label if words else action


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The dropdown: per group, "every event of the group" (a prefix) then each action."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for action, words in sorted(_ACTIONS.items(), key=lambda item: item[1].label):
        prefix = action.split(".", 1)[0]
        groups.setdefault(prefix, []).append((action, words.label))
    out = []
    for prefix in sorted(groups, key=lambda p: _GROUPS.get(p, p)):
        name = _GROUPS.get(prefix, prefix.capitalize())
        out.append((name, [(f"{prefix}.", f"All: {name.lower()}"), *groups[prefix]]))
    return out


def with_sentences(events):
    """Attach ``.sentence`` to each event of a page (no query: everything is on the row)."""
    events = list(events)
    for event in events:
        event.sentence = sentence(event)
    return events
