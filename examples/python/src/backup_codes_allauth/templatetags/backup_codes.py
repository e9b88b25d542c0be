from __future__ import annotations

from datetime import datetime, timezone

from django import template

register = template.Library()


@register.filter
def epoch(value: int | None) -> datetime | None:
    """Engine timestamps (seconds since the epoch) as aware UTC datetimes."""
    if value is None:
        return None
    return datetime.fromtimestamp(int(value), tz=timezone.utc)
