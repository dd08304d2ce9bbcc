def only_v1_endpoints(endpoints, **kwargs):
    """The OpenAPI document covers our own API; the MLflow-compatible routes follow MLflow's spec."""
    return [ep for ep in endpoints if ep[0].startswith("/api/v1/")]
