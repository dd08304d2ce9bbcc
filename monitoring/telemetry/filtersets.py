"""Filters shared by the API lists and the portal alert list."""

import django_filters

from monitoring.telemetry.choices import AlertState, Severity
from monitoring.telemetry.models import Alert, DataTest, SlaRule


class SlaRuleFilterSet(django_filters.FilterSet):
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    metric = django_filters.CharFilter()
    state = django_filters.CharFilter()

    class Meta:
        model = SlaRule
        fields = ["deployment", "metric", "state", "is_active"]


class AlertFilterSet(django_filters.FilterSet):
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    state = django_filters.MultipleChoiceFilter(choices=AlertState.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    unresolved = django_filters.BooleanFilter(method="filter_unresolved", label="Open or acknowledged only")

    class Meta:
        model = Alert
        fields = ["deployment", "state", "severity"]

    def filter_unresolved(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(state=AlertState.RESOLVED) if value else queryset.filter(state=AlertState.RESOLVED)


class DataTestFilterSet(django_filters.FilterSet):
    deployment = django_filters.NumberFilter(field_name="deployment_id")

    class Meta:
        model = DataTest
        fields = ["deployment"]
