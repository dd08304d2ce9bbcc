"""Writes of the monitoring app, one module per concern (``reports``: datasets, reports, model cards)."""
