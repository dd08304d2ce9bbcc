"""Reads of the monitoring app, one module per concern (``reports``)."""
