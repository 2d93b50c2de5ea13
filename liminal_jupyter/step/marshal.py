"""Marshalling by type: how a variable travels from one step to the next.

Each step runs in its own kernel (locally, or in its own pod on Kubeflow), so a variable a
later step reads is saved to a file by the step that produces it and loaded again by the
step that consumes it. The file format is chosen from the value's type, because one format
does not fit all: Parquet keeps a DataFrame portable and readable by other tools, `.npy`
keeps an array loadable without running pickle, joblib is what scikit-learn recommends
for models, JSON keeps small plain values human-readable, and cloudpickle is the catch-all
that can also carry lambdas and classes defined in the notebook itself.

A marshaller is any object with `name`, `suffix`, `can_save(value)`, `save(value, path)` and
`load(path)` (see `Marshaller`). Installed packages may add their own through the entry-point
group `liminal_jupyter.marshallers`; those are consulted before the built-ins, so a plugin can
take over a type. A marshaller whose `can_save` said yes may still decline inside `save` by
raising `CannotMarshal` (e.g. pyarrow refusing a mixed-type column); the next suitable
marshaller is then tried, so an unusual value degrades to pickle instead of failing the run.

Contracts kept here (see DESIGN.md): writes are atomic (temporary file in the same
directory, then `os.replace`), so a half-written file never sits under the final name;
values that cannot cross a process boundary fail early with a `MarshalError` that names the
variable and says what to do instead; and importing this module imports nothing heavy, since
pandas, numpy, pyarrow, joblib and cloudpickle are imported only when a value needs them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import secrets
import sys
import threading
import types
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "liminal_jupyter.marshallers"
"""Entry-point group third-party packages use to register marshallers."""

_CHUNK = 1 << 20


class MarshalError(Exception):
    """A variable cannot be passed between steps, or could not be loaded back.

    The message always names the variable, and the step when the caller knows it (this
    module does not: the step executor sets it with `with_step`), and says what to do.
    """

    def __init__(self, variable: str, problem: str, step: str | None = None) -> None:
        # All three in args so the exception survives pickling between processes.
        super().__init__(variable, problem, step)
        self.variable = variable
        self.problem = problem
        self.step = step

    def with_step(self, step: str) -> MarshalError:
        """Record the step the variable belongs to; returns self so `raise e.with_step(s)`."""
        self.step = step
        self.args = (self.variable, self.problem, step)
        return self

    def __str__(self) -> str:
        where = f" in step {self.step!r}" if self.step else ""
        return f"variable {self.variable!r}{where} {self.problem}"


class CannotMarshal(Exception):
    """Raised by a marshaller's `save` to decline a value: the next suitable one is tried.

    `can_save` is a cheap type check; some refusals are only known while writing (pyarrow
    rejecting a column, pickle meeting a lambda), and those should fall back, not fail.
    """


@runtime_checkable
class Marshaller(Protocol):
    """What a marshaller provides; built-ins and entry-point plugins alike.

    `save` must write exactly `path` (a temporary name chosen by `save_value`, which later
    renames it), and `load` must read a file that `save` wrote.
    """

    name: str
    suffix: str

    def can_save(self, value: Any) -> bool: ...

    def save(self, value: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any: ...


@dataclasses.dataclass(frozen=True)
class SavedValue:
    """Where a saved variable lives and how to read it back.

    Plain fields (path as str) so that `dataclasses.asdict` is JSON-serialisable and can be
    stored in a run record or handed to another process, then given back to `load_value`.
    """

    name: str
    marshaller: str
    path: str
    sha256: str
    size: int
    # The file's modification time after the atomic rename: a load that finds the same
    # size and time trusts the content without hashing it again (a rewrite changes both
    # or at least the time). None in records from before it was kept.
    mtime_ns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form that `load_value` also accepts."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SavedValue:
        """Rebuild from `to_dict` output, with a clear error for a malformed record."""
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "mtime_ns"]
        missing = [f for f in fields if f not in data]
        if missing:
            raise ValueError(
                f"not a saved-value record: missing {', '.join(missing)} "
                f"(expected the keys {', '.join(fields)})"
            )
        return cls(
            name=str(data["name"]),
            marshaller=str(data["marshaller"]),
            path=str(data["path"]),
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            mtime_ns=int(data["mtime_ns"]) if data.get("mtime_ns") is not None else None,
        )


# --------------------------------------------------------------------------------------
# Values that cannot cross a process boundary, detected before any file is written.


def _type_name(value: Any) -> str:
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def _lock_types() -> tuple[type, ...]:
    return (type(threading.Lock()), type(threading.RLock()))


_LOCK_TYPES = _lock_types()


def _unpassable(value: Any) -> tuple[str, str] | None:
    """(what it is, what to do instead) for values that only make sense in one process.

    Checked up front because pickling these either fails with an obscure message or, worse,
    "succeeds" with something useless. socket and sqlite3 are looked up in sys.modules:
    if they were never imported, the value cannot be one of theirs.
    """
    if isinstance(value, types.ModuleType):
        return (
            f"the module {value.__name__}",
            "import it in the step that uses it (an `imports` cell is re-run in every step) "
            "instead of passing it",
        )
    if isinstance(value, io.IOBase):
        what = "a closed file" if value.closed else "an open file"
        return what, "open it again in the step that uses it, or pass its path instead"
    if isinstance(value, types.GeneratorType | types.AsyncGeneratorType | types.CoroutineType):
        return (
            "a generator",
            "turn it into a list (e.g. `list(gen)`) in the step that creates it, "
            "or create the generator in the step that uses it",
        )
    socket = sys.modules.get("socket")
    if socket is not None and isinstance(value, socket.socket):
        return (
            "a network socket",
            "open the connection again in the step that uses it, or pass its address instead",
        )
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(value, sqlite3.Connection | sqlite3.Cursor):
        return (
            "a database connection",
            "connect again in the step that uses it, "
            "or pass the database path or connection string instead",
        )
    if isinstance(value, _LOCK_TYPES):
        return (
            "a thread lock",
            "create it in the step that uses it: each step runs in its own process, "
            "so a lock cannot be shared between steps",
        )
    return None


def _is_pickling_failure(exc: Exception) -> bool:
    """Whether an exception raised while pickling is about the value, not the disk."""
    return not isinstance(exc, OSError | MemoryError)


# --------------------------------------------------------------------------------------
# Built-in marshallers, in the order they are consulted.


def _loaded(module: str) -> Any:
    """The module if something already imported it, else None: never imports it."""
    return sys.modules.get(module)


def _type_module(value: Any) -> str:
    return getattr(type(value), "__module__", "") or ""


class ParquetMarshaller:
    """pandas DataFrame and Series as Parquet, written and read with pyarrow.

    Parquet is columnar, compact and readable outside Python, but it does not round-trip
    every pandas value exactly. Rather than hand back something subtly different, `save`
    declines (CannotMarshal, so pickle takes over) anything it cannot restore exactly:
    non-string or duplicate column names, object columns that are not all strings, dtypes
    Parquet would change (complex, sparse, seconds-resolution datetimes, python-backed
    strings), and whatever pyarrow itself refuses. What pyarrow's pandas metadata does not
    keep (a Series' name, an object dtype of strings, a DatetimeIndex's freq) is stored in
    our own schema metadata and restored on load.
    """

    name = "parquet"
    suffix = ".parquet"
    _META_KEY = b"liminal_jupyter"
    _SERIES_COLUMN = "values"

    def can_save(self, value: Any) -> bool:
        if not _type_module(value).startswith("pandas"):
            return False
        pd = _loaded("pandas")
        return pd is not None and type(value) in (pd.DataFrame, pd.Series)

    def save(self, value: Any, path: Path) -> None:
        import pandas as pd

        meta: dict[str, Any] = {"kind": "frame"}
        if isinstance(value, pd.Series):
            if not _is_exact_json(value.name):
                raise CannotMarshal(f"Series name {value.name!r} cannot be stored in Parquet")
            meta = {"kind": "series", "name": value.name}
            frame = value.to_frame(name=self._SERIES_COLUMN)
        else:
            frame = value
        meta.update(self._check_frame(frame))
        try:
            import pyarrow as pa
        except ImportError as exc:  # pyarrow missing: let pickle carry the frame
            raise CannotMarshal(f"pyarrow is not available: {exc}") from exc
        try:
            table = pa.Table.from_pandas(frame)
            schema_meta = dict(table.schema.metadata or {})
            schema_meta[self._META_KEY] = json.dumps(meta).encode()
            self._write_table(table.replace_schema_metadata(schema_meta), path)
        except (pa.ArrowException, ValueError, TypeError, NotImplementedError) as exc:
            raise CannotMarshal(f"pyarrow refused it: {exc}") from exc

    def _write_table(self, table: Any, path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))

    def _read_table(self, path: Path) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(str(path))

    def load(self, path: Path) -> Any:
        import pandas as pd

        table = self._read_table(path)
        raw = (table.schema.metadata or {}).get(self._META_KEY)
        meta = json.loads(raw) if raw else {"kind": "frame"}
        frame = table.to_pandas()
        for column in meta.get("object_columns", []):
            frame[column] = frame[column].astype(object)
        if meta.get("object_index"):
            frame.index = frame.index.astype(object)
        if meta.get("index_freq"):
            frame.index = pd.DatetimeIndex(frame.index, freq=meta["index_freq"])
        if meta["kind"] == "series":
            series = frame[self._SERIES_COLUMN]
            series.name = meta["name"]
            return series
        return frame

    def _check_frame(self, frame: Any) -> dict[str, Any]:
        """Decline what would not round-trip; return what load must restore."""
        import pandas as pd

        columns = frame.columns
        if len(columns) == 0:  # its empty column index would come back with another type
            raise CannotMarshal("a frame without columns is left to pickle")
        if isinstance(columns, pd.MultiIndex) or not all(type(c) is str for c in columns):
            raise CannotMarshal("Parquet needs string column names")
        if columns.has_duplicates:
            raise CannotMarshal("Parquet needs unique column names")
        if columns.name is not None and type(columns.name) is not str:
            raise CannotMarshal("Parquet keeps only string names for the columns' index")
        restore: dict[str, Any] = {"object_columns": []}
        for column in columns:
            dtype = frame[column].dtype
            if pd.api.types.is_object_dtype(dtype):
                if not _all_strings(frame[column]):
                    raise CannotMarshal(f"column {column!r} holds objects other than strings")
                restore["object_columns"].append(column)
            elif not _parquet_keeps(dtype):
                raise CannotMarshal(f"column {column!r} has dtype {dtype}, which Parquet changes")
        index = frame.index
        if any(n is not None and type(n) is not str for n in index.names):
            raise CannotMarshal("Parquet keeps only string index names")
        levels = index.levels if isinstance(index, pd.MultiIndex) else [index]
        for level in levels:
            if pd.api.types.is_object_dtype(level.dtype):
                if isinstance(index, pd.MultiIndex) or not _all_strings(level):
                    raise CannotMarshal("the index holds objects other than strings")
                restore["object_index"] = True
            elif not _parquet_keeps(level.dtype):
                raise CannotMarshal(f"the index has dtype {level.dtype}, which Parquet changes")
        freq = getattr(index, "freq", None)
        if isinstance(index, pd.DatetimeIndex) and freq is not None:
            restore["index_freq"] = index.freqstr
        return restore


class ArrowMarshaller(ParquetMarshaller):
    """Large pandas frames as Arrow IPC files (Feather v2), uncompressed.

    Encoding Parquet costs several times what pickle does on a frame of millions of rows
    (benchmarks/bench_marshal.py); Arrow's own file format writes and reads at memory
    speed and is still read outside Python (R's arrow, DuckDB, Polars, Spark). The same
    checks and restore metadata as Parquet apply; frames under `min_bytes` stay Parquet,
    which is smaller on disk and what most tools expect.
    """

    name = "arrow"
    suffix = ".arrow"
    min_bytes = 64 * 2**20

    def can_save(self, value: Any) -> bool:
        if not super().can_save(value):
            return False
        usage = value.memory_usage(index=True, deep=False)  # a Series gives an int
        return int(getattr(usage, "sum", lambda: usage)()) >= self.min_bytes

    def _write_table(self, table: Any, path: Path) -> None:
        import pyarrow.feather as feather

        feather.write_feather(table, str(path), compression="uncompressed")

    def _read_table(self, path: Path) -> Any:
        import pyarrow.feather as feather

        return feather.read_table(str(path))


def _all_strings(values: Any) -> bool:
    """True when every element is a str (no missing values, which would not round-trip)."""
    import pandas as pd

    return len(values) > 0 and pd.api.types.infer_dtype(values, skipna=False) == "string"


def _parquet_keeps(dtype: Any) -> bool:
    """Whether a non-object dtype comes back from Parquet as the same dtype."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        return not pd.api.types.is_object_dtype(categories.dtype) and _parquet_keeps(
            categories.dtype
        )
    if isinstance(dtype, pd.SparseDtype):
        return False
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.unit != "s"
    kind = getattr(dtype, "kind", "")
    if kind == "c":
        return False
    if kind and kind in "mM" and hasattr(dtype, "str"):
        # Parquet has no seconds resolution: datetime64[s] would come back as [ms].
        return not dtype.str.endswith("[s]")
    return True


class NpyMarshaller:
    """numpy arrays as `.npy`: fast, and loadable without unpickling anything.

    Arrays holding Python objects need pickle, so they are left to joblib.
    """

    name = "npy"
    suffix = ".npy"

    def can_save(self, value: Any) -> bool:
        np = _loaded("numpy")
        return np is not None and type(value) is np.ndarray and not value.dtype.hasobject

    def save(self, value: Any, path: Path) -> None:
        import numpy as np

        # Through a file object: given a name, np.save would append ".npy" to it.
        with open(path, "wb") as f:
            try:
                np.save(f, value, allow_pickle=False)
            except ValueError as exc:
                raise CannotMarshal(str(exc)) from exc

    def load(self, path: Path) -> Any:
        import numpy as np

        return np.load(path, allow_pickle=False)


def _is_sklearn_estimator(value: Any) -> bool:
    return (
        _type_module(value).startswith("sklearn")
        and hasattr(value, "get_params")
        and hasattr(value, "fit")
    )


def _is_numpy_heavy(value: Any, limit: int = 1000) -> bool:
    """An array, or a container / object whose direct members include arrays.

    Looks one level deep and at most `limit` members: a cheap hint, not a full traversal.
    """
    np = _loaded("numpy")
    if np is None:
        return False
    if isinstance(value, np.ndarray):
        return True
    if type(value) in (list, tuple):
        members: Iterable[Any] = value
    elif type(value) is dict:
        members = value.values()
    else:
        attributes = getattr(value, "__dict__", None)
        if not isinstance(attributes, dict):
            return False
        members = attributes.values()
    return any(isinstance(m, np.ndarray) for _, m in zip(range(limit), members, strict=False))


class _ByValueNeeded(Exception):
    """joblib met a function or class it could only store by value (see _needs_by_value)."""


def _needs_by_value(obj: type | types.FunctionType) -> bool:
    """A function or class that cannot be found again by module and name: defined in the
    notebook (`__main__`), a lambda, or defined inside a function.

    Decided here rather than left to pickle's failure: once `dill` is imported (Airflow
    brings it) pickle's pure-Python pickler, which joblib's subclasses, stores such
    functions by value, and the marshaller chosen would depend on what the kernel imported.
    """
    return (obj.__module__ == "__main__" or "<lambda>" in obj.__qualname__
            or "<locals>" in obj.__qualname__)


class JoblibMarshaller:
    """scikit-learn estimators and numpy-heavy objects with joblib, as sklearn recommends.

    joblib pickles functions and classes by reference. One defined in the notebook itself
    lives in `__main__` and would not exist in the next step's kernel, so such values are
    declined here and cloudpickle, which stores them by value, takes them instead.
    """

    name = "joblib"
    suffix = ".joblib"

    def can_save(self, value: Any) -> bool:
        return _is_sklearn_estimator(value) or _is_numpy_heavy(value)

    def save(self, value: Any, path: Path) -> None:
        from joblib.numpy_pickle import NumpyPickler

        class _Pickler(NumpyPickler):
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, type | types.FunctionType) and _needs_by_value(obj):
                    raise _ByValueNeeded(f"{obj.__qualname__} cannot be pickled by reference")
                return NotImplemented

        with open(path, "wb") as f:
            try:
                _Pickler(f).dump(value)
            except Exception as exc:
                if not _is_pickling_failure(exc):
                    raise
                raise CannotMarshal(f"{type(exc).__name__}: {exc}") from exc

    def load(self, path: Path) -> Any:
        import joblib

        return joblib.load(path)


def _is_exact_json(value: Any) -> bool:
    """Whether JSON gives back exactly this value (same types, same keys, same numbers).

    Exact types only: a tuple would come back a list, an int key a str key, NaN and the
    infinities are not JSON, and subclasses (numpy scalars, enums, OrderedDict) would lose
    their type. Cycles and very deep nesting are simply "not JSON".
    """
    try:
        return _exact_json(value)
    except RecursionError:
        return False


def _exact_json(value: Any) -> bool:
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return True
    if t is float:
        return math.isfinite(value)
    if t is list:
        return all(_exact_json(v) for v in value)
    if t is dict:
        return all(type(k) is str and _exact_json(v) for k, v in value.items())
    return False


class JsonMarshaller:
    """Plain values (None, bool, int, float, str, and lists/dicts of them) as JSON.

    Human-readable in the run's artifacts, and safe to load. Only values that round-trip
    exactly are accepted (see `_is_exact_json`).
    """

    name = "json"
    suffix = ".json"

    def can_save(self, value: Any) -> bool:
        return _is_exact_json(value)

    def save(self, value: Any, path: Path) -> None:
        try:
            # ensure_ascii: lone surrogates in a str survive as escapes, not encode errors.
            text = json.dumps(value, ensure_ascii=True, allow_nan=False)
        except ValueError as exc:  # e.g. an int longer than Python will parse back
            raise CannotMarshal(str(exc)) from exc
        Path(path).write_bytes(text.encode("ascii"))

    def load(self, path: Path) -> Any:
        return json.loads(Path(path).read_bytes())


class CloudpickleMarshaller:
    """Everything else, with cloudpickle: it also carries lambdas and notebook classes."""

    name = "cloudpickle"
    suffix = ".pkl"

    def can_save(self, value: Any) -> bool:
        return True

    def save(self, value: Any, path: Path) -> None:
        import cloudpickle

        with open(path, "wb") as f:
            try:
                cloudpickle.dump(value, f, protocol=5)
            except Exception as exc:
                if not _is_pickling_failure(exc):
                    raise
                raise CannotMarshal(f"{type(exc).__name__}: {exc}") from exc

    def load(self, path: Path) -> Any:
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)


BUILTIN_MARSHALLERS: tuple[Marshaller, ...] = (
    ArrowMarshaller(),
    ParquetMarshaller(),
    NpyMarshaller(),
    JoblibMarshaller(),
    JsonMarshaller(),
    CloudpickleMarshaller(),
)


# --------------------------------------------------------------------------------------
# Plugins.


def _entry_points() -> Iterable[Any]:
    """The entry points of our group. The one seam tests replace to register a fake."""
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


def _plugin_marshallers() -> list[Marshaller]:
    """Marshallers from installed packages; a broken one is skipped with a warning.

    Skipped rather than fatal: its values then go to a built-in (usually pickle), which
    still runs, and the warning names the package entry point to fix.
    """
    found: list[Marshaller] = []
    for ep in _entry_points():
        label = f"marshaller entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r}"
        try:
            obj = ep.load()
            if isinstance(obj, type):
                obj = obj()
        except Exception as exc:
            warnings.warn(f"ignoring {label}: it failed to load: {exc}", stacklevel=3)
            continue
        problem = _plugin_problem(obj)
        if problem:
            warnings.warn(f"ignoring {label}: {problem}", stacklevel=3)
            continue
        found.append(obj)
    return found


def _plugin_problem(obj: Any) -> str | None:
    name, suffix = getattr(obj, "name", None), getattr(obj, "suffix", None)
    if not isinstance(name, str) or not name:
        return "it has no `name` string"
    if not isinstance(suffix, str) or not suffix.startswith(".") or "/" in suffix or "\\" in suffix:
        return "its `suffix` must be a string like '.ext'"
    for method in ("can_save", "save", "load"):
        if not callable(getattr(obj, method, None)):
            return f"it has no `{method}` method"
    return None


def marshallers() -> list[Marshaller]:
    """All marshallers in the order they are consulted: plugins first, then built-ins."""
    return [*_plugin_marshallers(), *BUILTIN_MARSHALLERS]


# --------------------------------------------------------------------------------------
# The API used by the step executor.


def save_value(name: str, value: Any, directory: Path) -> SavedValue:
    """Save one variable into `directory` as `<name><suffix>`, atomically.

    Tries each marshaller that says it can save the value, in order, until one succeeds.
    Raises MarshalError (naming the variable and what to do instead) when none can.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{name!r} is not a variable name, so it cannot name a saved value")
    unpassable = _unpassable(value)
    if unpassable:
        what, advice = unpassable
        raise MarshalError(
            name, f"({what}, {_type_name(value)}) cannot be passed to the next step: {advice}"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    declined: CannotMarshal | None = None
    for marshaller in marshallers():
        if not marshaller.can_save(value):
            continue
        try:
            return _write_atomically(name, value, marshaller, directory)
        except CannotMarshal as exc:
            declined = exc
    reason = f" ({declined})" if declined else ""
    raise MarshalError(
        name,
        f"({_type_name(value)}) cannot be passed to the next step: it could not be saved"
        f"{reason}. Create it in the step that uses it, or pass the plain data it is built "
        "from instead",
    ) from declined


def _write_atomically(name: str, value: Any, marshaller: Marshaller, directory: Path) -> SavedValue:
    """Write to a hidden temporary name, hash what was written, then rename it into place.

    The temporary file lives in the same directory so `os.replace` is an atomic rename; it
    is removed on any failure, so neither it nor a partial final file is left behind.

    No fsync: a killed run (even SIGKILL) loses nothing the kernel has written, and what an
    OS crash or power cut could tear is caught by the sha256 recorded here: the cache and
    `--resume` hash every artifact again before they trust it, and a torn one is computed
    again. Waiting for the disk would triple the time to save a large frame for nothing.
    """
    final = directory / f"{name}{marshaller.suffix}"
    tmp = directory / f".{name}.{secrets.token_hex(8)}{marshaller.suffix}.tmp"
    try:
        marshaller.save(value, tmp)
        digest = file_sha256(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    stat = final.stat()
    return SavedValue(name, marshaller.name, str(final), digest, stat.st_size, stat.st_mtime_ns)


def _unchanged_since_saved(path: Path, saved: SavedValue) -> bool:
    if saved.mtime_ns is None:
        return False
    stat = path.stat()
    return stat.st_size == saved.size and stat.st_mtime_ns == saved.mtime_ns


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The content hash recorded when a value is saved, and checked by whatever trusts the
    file later (load_value, the run store's --resume, the cache): one function for both."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()



def load_value(saved: SavedValue | dict[str, Any], *, verify: bool = True) -> Any:
    """Load a variable saved by `save_value`, given its SavedValue or its dict form.

    With `verify` (the default) a file changed or truncated since it was saved is reported
    instead of silently trusted: when its size and modification time are those recorded at
    save time it is the file written then (writing it again changes the time), else its
    sha256 is checked.
    """
    if not isinstance(saved, SavedValue):
        saved = SavedValue.from_dict(saved)
    path = Path(saved.path)
    if not path.is_file():
        raise MarshalError(
            saved.name,
            f"could not be loaded: {path} does not exist. Run the step that produces it "
            "again (did it finish?)",
        )
    if verify and not _unchanged_since_saved(path, saved) and file_sha256(path) != saved.sha256:
        raise MarshalError(
            saved.name,
            f"could not be loaded: {path} changed since it was saved (sha256 mismatch). "
            "Run the step that produces it again",
        )
    marshaller = next((m for m in marshallers() if m.name == saved.marshaller), None)
    if marshaller is None:
        raise MarshalError(
            saved.name,
            f"could not be loaded: it was saved with the {saved.marshaller!r} marshaller, "
            "which is not installed here. Install the package that provides it (entry-point "
            f"group {ENTRY_POINT_GROUP!r})",
        )
    try:
        return marshaller.load(path)
    except Exception as exc:
        raise MarshalError(
            saved.name,
            f"could not be loaded from {path} ({type(exc).__name__}: {exc}). If it refers "
            "to a function or class, define it in a `functions` cell so every step has it",
        ) from exc
