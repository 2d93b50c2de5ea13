"""Host secrets (a password, a token) kept in this process's memory, never on disk.

A run submitted from the Jupyter server is followed by that same server (its state, its
logs, cancel): the host asks for credentials each time, and the runs ledger must never hold
them. So `submit` remembers the secrets it was given, by engine and host, for as long as
this process lives; a later ask for that host finds them here, then in the environment
($LIMINAL_AIRFLOW_PASSWORD, $KF_PIPELINES_TOKEN). A server restarted forgets them: the
panel then says quietly that the host could not be asked, until the next submit.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_kept: dict[tuple[str, str], dict[str, str]] = {}


def remember(engine: str, host: str, secrets: dict[str, str | None]) -> None:
    """Keep the given (non-empty) secrets for `host`; an empty value leaves the one kept."""
    given = {k: v for k, v in secrets.items() if v}
    if not given:
        return
    with _lock:
        _kept.setdefault((engine, host.rstrip("/")), {}).update(given)


def recall(engine: str, host: str) -> dict[str, str]:
    """The secrets remembered for `host` (a copy; {} when none)."""
    with _lock:
        return dict(_kept.get((engine, (host or "").rstrip("/")), {}))


def forget_all() -> None:
    """Drop every remembered secret (tests; a server that wants a clean slate)."""
    with _lock:
        _kept.clear()
