"""What each process of ours does first: leave out optional imports that cost seconds.

nbformat (so papermill, nbconvert and every step) imports jsonschema, whose format
checkers import `rfc3987_syntax` when it is installed (jupyter_server's dependencies install
it): it compiles some thirty Earley grammars at import, 1-2 s on an idle machine and more
on a busy one, paid by every step of every engine and by every `liminal-nb` command, for
the `iri` formats that no notebook schema uses (python-jsonschema/jsonschema#1428).
jsonschema imports it inside `suppress(ImportError)`, so marking it absent only drops those
two format checkers, in our own processes. Not done when jsonschema is already imported:
someone else's process, whose validators we leave as they are.

Another program we start and wait for (`airflow dags test`, `airflow db migrate`) pays the
same import in its own process; `lean_module_command` starts it through this module
(`python -m liminal_jupyter.startup MODULE ARGS...`), which leaves the grammar out and then
runs MODULE exactly as `python -m MODULE ARGS...` would.
"""

from __future__ import annotations

import runpy
import sys

SLOW_OPTIONAL_MODULES = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    if "jsonschema" in sys.modules:
        return
    for name in SLOW_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not importable"


def lean_module_command(module: str, *args: str) -> list[str]:
    """The command line of `python -m MODULE ARGS...` without the slow optional imports."""
    return [sys.executable, "-m", __name__, module, *args]


def main(argv: list[str] | None = None) -> None:
    """`python -m liminal_jupyter.startup MODULE [ARGS...]`: run MODULE as `python -m`
    would, with sys.argv as it would have it, after `skip_slow_optional_imports`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        sys.exit("usage: python -m liminal_jupyter.startup MODULE [ARGS...]")
    skip_slow_optional_imports()
    sys.argv = list(argv)  # runpy puts the module's file path in argv[0]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
