"""The engine registry: the one list of engines, an entry-point group.

Our own engines are entry points of this package (pyproject.toml,
`[project.entry-points."liminal_jupyter.engines"]`) exactly as a third party's would be, so
nothing in the code lists engine names: the CLI's `--backend` choices, `GET
/liminal/status`, the Python API and the panel's selector all come from here. An entry point
names an object (an `Engine`, or a class or function that returns one) in a module that
must stay light to import: heavy libraries are imported when the engine runs.

Like the marshallers' plugins (step/marshal.py), an entry point that fails to load or does
not look like an engine is left out with a warning that says why, rather than breaking every
command.
"""

from __future__ import annotations

import functools
import warnings
from importlib.metadata import entry_points

from liminal_jupyter.engines.base import Engine

GROUP = "liminal_jupyter.engines"
DEFAULT = "local"


class UnknownEngine(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def engines() -> dict[str, Engine]:
    """Every installed engine by name: ours first (local first), then others by name."""
    found: dict[str, Engine] = {}
    for point in sorted(entry_points(group=GROUP), key=_order):
        if point.name in found:
            continue  # the first distribution wins, as with console scripts
        try:
            engine = point.load()
            if isinstance(engine, type) or (callable(engine) and not isinstance(engine, Engine)):
                engine = engine()
        except Exception as exc:  # a broken plugin must not break every command
            warnings.warn(f"engine '{point.name}' ({point.value}) could not be loaded: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)
            continue
        if not isinstance(engine, Engine) or engine.name != point.name:
            warnings.warn(f"engine '{point.name}' ({point.value}) is not an Engine named "
                          f"'{point.name}' (liminal_jupyter.engines.base.Engine)", stacklevel=2)
            continue
        found[point.name] = engine
    return found


def _order(point) -> tuple[int, int, str]:
    ours = point.value.startswith("liminal_jupyter.")
    return (0 if ours else 1, 0 if point.name == DEFAULT else 1, point.name)


def get_engine(name: str) -> Engine:
    """The engine called `name`; UnknownEngine names the ones there are."""
    found = engines()
    if name not in found:
        raise UnknownEngine(f"unknown engine {name!r}; one of: {', '.join(found)}")
    return found[name]


def names(**wanted: bool) -> list[str]:
    """Engine names whose capabilities match, e.g. names(run=True), names(compile=True)."""
    return [name for name, engine in engines().items()
            if all(getattr(engine.capabilities, k) == v for k, v in wanted.items())]


def reload() -> None:
    """Forget what was found (a test that installs an engine, a long-lived server)."""
    engines.cache_clear()
