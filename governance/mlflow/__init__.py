"""MLflow-compatible model-registry REST subset (``/api/2.0/mlflow/``).

An adapter: it parses MLflow's wire format, calls the registry services (every
write audited) and answers in MLflow's wire format, so an unmodified
``mlflow.MlflowClient(registry_uri=...)`` works against Modelgate.
"""
