from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(score: float, digits: int = 2) -> str:
    """0.51234 -> '51.23%'."""
    return f"{float(score) * 100:.{int(digits)}f}%"


@register.filter
def millions(count: int) -> str:
    """25636712 -> '25.6 M'."""
    return f"{int(count) / 1e6:.1f} M"
