"""Colours and text shared by the widgets: one state, one colour, in every view."""

from __future__ import annotations

STEP_STATE_COLOURS = {
    "waiting": "#757575",
    "running": "#0277bd",
    "cached": "#3949ab",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#f9a825",
    "interrupted": "#8e24aa",
}

RUN_STATUS_COLOURS = {
    "running": "#0277bd",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#f9a825",
    "interrupted": "#8e24aa",
}


def duration_text(start: float | None, end: float | None) -> str:
    """'1.2 s', '3 min 04 s', or '' when the step has not started."""
    if start is None or end is None:
        return ""
    seconds = max(0.0, end - start)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"
