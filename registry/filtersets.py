"""Filters shared by the REST API and the portal lists."""

from __future__ import annotations

import re

import django_filters
from django.db.models import Exists, FloatField, OuterRef, Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from rest_framework.exceptions import ValidationError

from registry.choices import Framework, VersionStatus
from registry.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel, TrainingRun

_METRIC = re.compile(r"^\s*([A-Za-z0-9_.:/-]{1,128})\s*(>=|<=|==|=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
_LOOKUP = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact", "==": "exact"}


def _values(filterset, name: str, value: str) -> list[str]:
    data = filterset.data
    return data.getlist(name) if hasattr(data, "getlist") else [value]


def filter_tags(queryset, values: list[str], field: str = "tags"):
    """``tag=key`` (has the key) or ``tag=key:value``; repeat to AND them."""
    for i, raw in enumerate(values):
        key, sep, wanted = raw.partition(":")
        if not key:
            raise ValidationError({"tag": ["Use 'key' or 'key:value'."]})
        if sep:
            alias = f"_tag{i}"
            # Cast: an exact lookup on a key transform would compare as JSON, not as text.
            queryset = queryset.alias(**{alias: Cast(KeyTextTransform(key, field), TextField())}).filter(**{alias: wanted})
        else:
            queryset = queryset.filter(**{f"{field}__has_key": key})
    return queryset


def filter_metrics(queryset, values: list[str], field: str = "metrics"):
    """``metric=auc>=0.8`` (repeat to AND). Metrics are validated numbers at registration, so the cast is safe."""
    for i, raw in enumerate(values):
        match = _METRIC.match(raw)
        if not match:
            raise ValidationError({"metric": [f"{raw!r}: use name>=number (also >, <, <=, =)."]})
        name, op, number = match.groups()
        alias = f"_metric{i}"
        queryset = queryset.alias(**{alias: Cast(KeyTextTransform(name, field), FloatField())}).filter(
            **{f"{alias}__{_LOOKUP[op]}": float(number)}
        )
    return queryset


class RegisteredModelFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", help_text="Exact model name.")
    q = django_filters.CharFilter(method="filter_q", help_text="Name or description contains (case-insensitive).")
    team = django_filters.CharFilter(field_name="team__slug", help_text="Owning team slug.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="'key' or 'key:value'; repeat to AND.")
    framework = django_filters.ChoiceFilter(choices=Framework.choices, method="filter_framework", help_text="Has a version of this framework.")
    metric = django_filters.CharFilter(method="filter_metric", help_text="Has a version meeting 'auc>=0.8'; repeat to AND (same version).")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RegisteredModel
        fields: list[str] = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_tag(self, queryset, name, value):
        return filter_tags(queryset, _values(self, name, value))

    def filter_framework(self, queryset, name, value):
        return queryset.filter(Exists(ModelVersion.objects.filter(registered_model=OuterRef("pk"), framework=value)))

    def filter_metric(self, queryset, name, value):
        versions = filter_metrics(ModelVersion.objects.filter(registered_model=OuterRef("pk")), _values(self, name, value))
        return queryset.filter(Exists(versions))


class ModelVersionFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="registered_model__name", help_text="Exact model name.")
    team = django_filters.CharFilter(field_name="registered_model__team__slug", help_text="Owning team slug.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="'key' or 'key:value'; repeat to AND.")
    framework = django_filters.ChoiceFilter(choices=Framework.choices)
    status = django_filters.ChoiceFilter(choices=VersionStatus.choices)
    metric = django_filters.CharFilter(method="filter_metric", help_text="Threshold such as 'auc>=0.8'; repeat to AND.")
    python = django_filters.CharFilter(method="filter_python", help_text="Environment Python version, e.g. 3.11.")
    source_commit = django_filters.CharFilter(field_name="source_commit")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ModelVersion
        fields: list[str] = []

    def filter_tag(self, queryset, name, value):
        return filter_tags(queryset, _values(self, name, value))

    def filter_metric(self, queryset, name, value):
        return filter_metrics(queryset, _values(self, name, value))

    def filter_python(self, queryset, name, value):
        return queryset.alias(_python=Cast(KeyTextTransform("python", "environment"), TextField())).filter(_python=value)


class DatasetFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name")
    team = django_filters.CharFilter(field_name="team__slug")

    class Meta:
        model = Dataset
        fields: list[str] = []


class DatasetVersionFilterSet(django_filters.FilterSet):
    dataset = django_filters.NumberFilter(field_name="dataset_id")
    sha256 = django_filters.CharFilter(field_name="sha256")

    class Meta:
        model = DatasetVersion
        fields: list[str] = []


class TrainingRunFilterSet(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__slug")
    external_id = django_filters.CharFilter(field_name="external_id")
    commit = django_filters.CharFilter(field_name="commit")

    class Meta:
        model = TrainingRun
        fields: list[str] = []
