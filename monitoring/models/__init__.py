"""Monitoring models, one module per concern so each part grows on its own.

``reports``: evaluation datasets, explainability/fairness/drift reports, model cards.
"""

from monitoring.models.reports import EvaluationDataset, ModelCard, Report

__all__ = ["EvaluationDataset", "ModelCard", "Report"]
