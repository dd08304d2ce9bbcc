"""Calls to the MLflow endpoints with Django's test client, as MLflow's client makes them:
GET with query parameters, everything else with a JSON body."""

from __future__ import annotations

import base64
import json

from django.test import Client

from modelgate.core.services import token_create

PREFIX = "/api/2.0/mlflow/"


class MlflowApi:
    def __init__(self, user=None, *, basic: tuple[str, str] | None = None, client: Client | None = None):
        self.client = Client(enforce_csrf_checks=True)
        if client is not None:  # send that client's cookies (a logged-in session, say), leave the client as it was
            self.client.cookies = client.cookies
        self.headers = {}
        if user is not None:
            _, raw = token_create(user=user, name="mlflow-test")
            self.token = raw
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
        if basic is not None:
            encoded = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            self.headers["HTTP_AUTHORIZATION"] = f"Basic {encoded}"

    def call(self, method: str, path: str, params: dict | None = None):
        url = PREFIX + path
        if method == "GET":
            response = self.client.get(url, params or {}, **self.headers)
        else:
            response = self.client.generic(method, url, json.dumps(params or {}), content_type="application/json", **self.headers)
        return response.status_code, (response.json() if response.content else None)

    def get(self, path, params=None):
        return self.call("GET", path, params)

    def post(self, path, params=None):
        return self.call("POST", path, params)

    def patch(self, path, params=None):
        return self.call("PATCH", path, params)

    def delete(self, path, params=None):
        return self.call("DELETE", path, params)
