"""What each process of ours does first: leave out optional imports that cost seconds.

nbformat (so papermill, nbconvert and every step) imports jsonschema, whose format
checkers import `rfc3987_syntax` when it is installed (jupyter_server's dependencies install
it): it compiles some thirty Earley grammars at import, 1-2 s on an idle machine and more
on a busy one, paid by every step of every engine and by every `liminal-nb` command, for
the `iri` formats that no notebook schema uses (python-jsonschema/jsonschema#1428).
jsonschema imports it inside `suppress(ImportError)`, so marking it absent only drops those
two format checkers, in our own processes. Not done when jsonschema is already imported:
someone else's process, whose validators we leave as they are.
"""

from __future__ import annotations

import sys

SLOW_OPTIONAL_MODULES = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    if "jsonschema" in sys.modules:
        return
    for name in SLOW_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not importable"
