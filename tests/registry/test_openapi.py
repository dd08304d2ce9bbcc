"""The registry's part of the OpenAPI document: generated without warnings, valid, and honest."""

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from registry.api import views


def _registry_warnings() -> list[str]:
    api_modules = {f"{cls.__module__}.{cls.__name__}" for cls in vars(views).values() if isinstance(cls, type)}
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    return [m for m in messages if "registry/" in m or any(name.rsplit(".", 1)[1] in m for name in api_modules if name.startswith("registry."))]


def test_it_generates_a_valid_schema_without_registry_warnings(db):
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert _registry_warnings() == []
    paths = schema["paths"]
    upload = paths["/api/v1/models/{name}/versions/{version}/artifacts/{path}"]
    assert "application/octet-stream" in upload["put"]["requestBody"]["content"]
    assert {"201", "400", "404", "409", "411", "413"} <= set(upload["put"]["responses"])
    assert "206" in upload["get"]["responses"] and "416" in upload["get"]["responses"]
    register = paths["/api/v1/models/{name}/versions/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in register["parameters"])
    assert {"200", "201", "409"} <= set(register["responses"])
    assert "metric" in {p["name"] for p in paths["/api/v1/versions/"]["get"]["parameters"]}
