"""Times for people: the store keeps UTC ISO strings; pages show local "YYYY-MM-DD HH:MM".

The zone is ``DISPLAY_TZ`` (default Asia/Shanghai, where the call centers are); date filters use
the same zone, so "from 11-24" means the local day, as shown.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

DEFAULT_TZ = "Asia/Shanghai"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def zone():
    name = (current_app.config.get("DISPLAY_TZ") if has_app_context() else None) or DEFAULT_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def when(iso) -> str:
    """'2026-11-23T19:33:16Z' -> '2026-11-24 03:33' (in the display zone); other text as it is."""
    try:
        moment = datetime.strptime(str(iso), ISO).replace(tzinfo=timezone.utc)
    except ValueError:
        return "" if iso is None else str(iso)
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M")


def day_start_utc(day: str, tz) -> str:
    """The UTC ISO time at which the local ``day`` (YYYY-MM-DD) begins."""
    start = datetime.combine(date.fromisoformat(day), time(0), tzinfo=tz)
    return start.astimezone(timezone.utc).strftime(ISO)


def local_date(iso: str) -> date:
    """The display-zone calendar day of a UTC ISO time."""
    try:
        moment = datetime.strptime(iso, ISO).replace(tzinfo=timezone.utc)
    except ValueError:
        return date.fromisoformat(iso[:10])
    return moment.astimezone(zone()).date()


def local_filters(f: dict) -> dict:
    """Filters whose dates mean days in the display zone (for simulator.store.review)."""
    tz = zone()
    return dict(f, day_start=lambda day: day_start_utc(day, tz), local_date=local_date)
