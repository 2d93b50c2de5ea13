"""Which values a step keeps after a run, beyond those later steps read.

A run passes on only what later steps read. A data scientist also wants what a step
computed at the end of the pipeline (a total, a report table) and what they told us
matters (metrics, models), loadable after the run without re-running anything. So by
default a step keeps its outputs, plus every value a leaf step (one nothing runs after)
defines, plus the names its metrics read; `keep:all` on a step (or `liminal.keep: "all"`
for every step) keeps every value it defines. A per-value size cap (`liminal.keep_max`)
keeps a huge intermediate from filling the disk by accident; what is not kept is noted
in the step's manifest and shown by `liminal-nb show`.
"""

from __future__ import annotations

import re
from typing import Any

KEEP_MODES = ("default", "all")

DEFAULT_KEEP_MAX = 1 << 30
"""1 GiB per kept value unless `liminal.keep_max` says otherwise: generous, but a
forgotten 20 GB intermediate is not copied to disk by accident."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_size(value: Any) -> int | None:
    """Bytes in 1000000, '500MB', '2GiB' or '750k'; None if it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if not match:
        return None
    unit = (match.group(2) or "").lower().removesuffix("b")
    if unit not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[unit])


def keep_max(settings: dict[str, Any]) -> int:
    """The per-value cap in bytes for a pipeline's settings (validated at parse time)."""
    size = parse_size(settings.get("keep_max", DEFAULT_KEEP_MAX))
    return DEFAULT_KEEP_MAX if size is None else size


def kept_names(defined: set[str], outputs: list[str], metric_reads: set[str], *,
               leaf: bool, keep_all: bool) -> list[str]:
    """The names a step saves for after the run that it does not pass on already.

    defined: the values the step binds and leaves alive (no imports, no functions or
    classes defined in it). Private names (`_tmp`) are never kept unless a metric reads them.
    """
    chosen = set(metric_reads & defined)
    if leaf or keep_all:
        chosen |= {name for name in defined if not name.startswith("_")}
    return sorted(chosen - set(outputs))
