"""Template filters for values as people read them (see ``modelgate.core.readable``)."""

from django import template

from modelgate.core import readable

register = template.Library()


@register.filter
def num(value, digits=3):
    return readable.number(value, int(digits))


@register.filter
def unit(value, name):
    """``{{ 38|unit:"ms" }}`` → ``38 ms``."""
    return readable.quantity(value, name)


@register.filter
def when(value):
    return readable.when(value)


@register.filter
def sentence(event):
    """An audit event in a sentence: "bea approved credit-scoring v2 for Prod as business approver: “…”"."""
    from modelgate.core.sentences import sentence as write

    return write(event)
