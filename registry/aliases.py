"""Alias rules: the extension point through which a higher layer decides where an
alias may point.

The registry stores aliases and knows nothing of environments or approvals. An app
that binds alias names to its own facts (governance: ``champion`` needs a version
approved for or deployed in Prod) registers an ``AliasRule`` in its
``AppConfig.ready()``. The registry then applies it everywhere an alias is written
or read: ``services.alias_set`` refuses an ineligible target whatever the surface
(REST, MLflow, admin, commands), ``services.aliases_enforce_rules`` moves or removes
aliases that a change elsewhere made ineligible, and resolving an alias
(``target_allowed``) never hands out a version a rule no longer allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from modelgate.core.errors import ConflictError

if TYPE_CHECKING:
    from registry.models import ModelVersion


@dataclass(frozen=True)
class AliasRule:
    # The error code of a refusal, e.g. "reserved_alias".
    code: str
    # Does the rule bind this alias name?
    governs: Callable[[str], bool]
    # The versions (a ModelVersion queryset, of any model) the alias may point at now.
    eligible: Callable[[str], QuerySet]
    # Why ``version`` may not carry the alias, in a sentence for the caller.
    explain: Callable[[str, ModelVersion], str]
    # Where an alias that became ineligible moves: (alias, model id) → a version of that model, or None to remove it.
    replacement: Callable[[str, int], ModelVersion | None]


ALIAS_RULES: dict[str, AliasRule] = {}


def register_alias_rule(rule: AliasRule) -> None:
    """Register (or replace, by code) a rule; call from ``AppConfig.ready()``."""
    ALIAS_RULES[rule.code] = rule


def rules_for(alias: str) -> list[AliasRule]:
    return [rule for rule in ALIAS_RULES.values() if rule.governs(alias)]


class AliasRuleError(ConflictError):
    """A rule refuses the alias's target. A conflict (409) with the version's current state
    rather than bad input: the same request succeeds once the version is approved. The
    MLflow API answers it as MLflow does a refused parameter (400 INVALID_PARAMETER_VALUE)."""


def _version_id(version) -> int:
    return getattr(version, "pk", version)


def is_eligible(rule: AliasRule, alias: str, version) -> bool:
    return rule.eligible(alias).filter(pk=_version_id(version)).exists()


def check_target(*, alias: str, version: ModelVersion) -> None:
    """Raise ``AliasRuleError`` (code = the rule's) if a rule refuses ``version`` for ``alias``."""
    for rule in rules_for(alias):
        if not is_eligible(rule, alias, version):
            message = rule.explain(alias, version)
            raise AliasRuleError(message, code=rule.code, fields={"version": [message]})


def target_allowed(*, alias: str, version) -> bool:
    """May ``alias`` resolve to ``version`` (an object or a primary key) now? Free aliases cost no query."""
    return all(is_eligible(rule, alias, version) for rule in rules_for(alias))
