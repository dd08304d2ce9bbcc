"""The risk-tier questionnaire and how it computes a tier.

Five questions (SR 11-7 materiality and complexity, reliance on the output, decisions
about people, EU AI Act category). The rule, in words: EU "prohibited" or "high-risk"
is Tier 1; otherwise points add up (materiality, complexity, reliance 1–3 each, +2 for
a regulated decision about people): 10 or more is Tier 1, 7 or more Tier 2, else Tier 3.
"""

from __future__ import annotations

from governance.modelrisk.choices import EuAiActCategory, Level, Reliance, Tier

QUESTIONS = {
    "materiality": {"label": "Materiality: financial, customer or regulatory impact of an error", "choices": Level.choices},
    "complexity": {"label": "Complexity of the method and its data", "choices": Level.choices},
    "reliance": {"label": "Reliance on the output", "choices": Reliance.choices},
    "decisions_about_people": {"label": "Is it used for a regulated decision about people (credit, employment, insurance)?",
                               "choices": [(True, "Yes"), (False, "No")]},
    "eu_ai_act_category": {"label": "EU AI Act category", "choices": EuAiActCategory.choices},
}

_LEVEL_POINTS = {Level.HIGH: 3, Level.MEDIUM: 2, Level.LOW: 1}
_RELIANCE_POINTS = {Reliance.AUTOMATED: 3, Reliance.SUPPORTED: 2, Reliance.INFORMATIONAL: 1}


def validate_answers(answers) -> dict[str, list[str]]:
    """Field errors of a questionnaire (empty when every question has an allowed answer)."""
    if not isinstance(answers, dict):
        return {"answers": ["An object with one answer per question."]}
    errors = {}
    for key, question in QUESTIONS.items():
        allowed = [value for value, _ in question["choices"]]
        value = answers.get(key)
        if value is None or value not in allowed or (key == "decisions_about_people" and not isinstance(value, bool)):
            errors[key] = [f"One of: {', '.join(str(v).lower() if isinstance(v, bool) else str(v) for v in allowed)}."]
    unknown = sorted(set(answers) - set(QUESTIONS))
    if unknown:
        errors["answers"] = [f"Unknown questions: {', '.join(unknown)}."]
    return errors


def compute_tier(answers: dict) -> int:
    if answers["eu_ai_act_category"] in (EuAiActCategory.PROHIBITED, EuAiActCategory.HIGH_RISK):
        return Tier.TIER_1
    points = (_LEVEL_POINTS[answers["materiality"]] + _LEVEL_POINTS[answers["complexity"]]
              + _RELIANCE_POINTS[answers["reliance"]] + (2 if answers["decisions_about_people"] else 0))
    if points >= 10:
        return Tier.TIER_1
    if points >= 7:
        return Tier.TIER_2
    return Tier.TIER_3
