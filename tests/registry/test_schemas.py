"""Schema, sample-row, environment and serving-descriptor validation."""

import pytest

from modelgate.core.errors import ApplicationError
from registry import schemas
from tests.registry.factories import CAR_RECORD, IRIS_SCHEMA


def test_it_validates_rows_against_json_schema():
    assert schemas.row_errors("json_schema", IRIS_SCHEMA, {"sepal_length": 1, "sepal_width": 2}) == []
    errors = schemas.row_errors("json_schema", IRIS_SCHEMA, {"sepal_length": "x", "petal": 1})
    assert any("sepal_length" in e for e in errors) and any("sepal_width" in e for e in errors)


def test_it_validates_rows_against_the_avro_car_record():
    assert schemas.row_errors("avro", CAR_RECORD, {"make": "Volvo", "year": 2020, "price": 9.5}) == []
    assert schemas.row_errors("avro", CAR_RECORD, {"make": "Volvo"}) != []


def test_it_lists_schema_fields_for_display():
    assert schemas.schema_fields("avro", CAR_RECORD)[2] == {"name": "price", "type": "['null', 'double']", "required": False}
    assert schemas.schema_fields("json_schema", IRIS_SCHEMA)[0] == {"name": "sepal_length", "type": "number", "required": True}


@pytest.mark.parametrize(
    "environment",
    [{"python": "three"}, {"packages": "numpy==1"}, {"packages": ["numpy"]}, {"packages": ["numpy~=1.0"]}, []],
)
def test_it_refuses_unpinned_or_malformed_environments(environment):
    with pytest.raises(ApplicationError) as info:
        schemas.validate_environment(environment)
    assert "environment" in info.value.fields


def test_it_accepts_pinned_environments_and_extras():
    schemas.validate_environment({"python": "3.11.9", "packages": ["scikit-learn==1.5.2", "uvicorn[standard]==0.30.1"]})


def test_it_requires_transport_locations_in_the_serving_descriptor():
    schemas.validate_serving({"mode": "streaming", "input": {"type": "kafka", "location": "loans-in"}})
    with pytest.raises(ApplicationError) as info:
        schemas.validate_serving({"mode": "rest", "input": {"type": "http"}})
    assert "location" in info.value.message
