"""Tests for marshalling by type: each value goes to the right format and comes back exact."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liminal_jupyter.step import marshal
from liminal_jupyter.step.marshal import (
    CannotMarshal,
    MarshalError,
    SavedValue,
    load_value,
    save_value,
)


def roundtrip(value, tmp_path: Path, name: str = "v"):
    saved = save_value(name, value, tmp_path)
    # Through the JSON form, as a run record would store it.
    record = json.loads(json.dumps(saved.to_dict()))
    return saved, load_value(record)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- pandas -----------------------------------------------------------------------------


def test_dataframe_goes_to_parquet_and_round_trips(tmp_path):
    df = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, np.nan, -0.0],
            "s": ["a", "b", None],
            "b": [True, False, True],
            "t": pd.date_range("2024-01-01", periods=3, tz="UTC"),
            "c": pd.Categorical(["x", "y", "x"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index([10, 20, 30], name="row"),
    )
    saved, out = roundtrip(df, tmp_path)
    assert saved.marshaller == "parquet"
    assert saved.path.endswith(".parquet")
    pd.testing.assert_frame_equal(out, df, check_exact=True)
    assert list(out.columns) == list(df.columns)
    assert out.index.name == "row"
    assert dict(out.dtypes) == dict(df.dtypes)


@pytest.mark.parametrize("kind", ["frame", "series"])
def test_large_frames_go_to_arrow_ipc_and_round_trip(tmp_path, monkeypatch, kind):
    """Over ArrowMarshaller.min_bytes (64 MiB by default; lowered here) a frame is Arrow IPC."""
    from liminal_jupyter.step.marshal import ArrowMarshaller

    monkeypatch.setattr(ArrowMarshaller, "min_bytes", 1)
    df = pd.DataFrame(
        {
            "i": np.arange(1000),
            "f": np.linspace(0, 1, 1000),
            "s": ["a", "b"] * 500,
            "t": pd.date_range("2024-01-01", periods=1000, freq="h", tz="UTC"),
            "c": pd.Categorical(["x", "y"] * 500),
        },
        index=pd.Index(np.arange(1000) * 2, name="row"),
    )
    value = df if kind == "frame" else df["f"].rename("score")
    saved, out = roundtrip(value, tmp_path)
    assert (saved.marshaller, Path(saved.path).suffix) == ("arrow", ".arrow")
    if kind == "frame":
        pd.testing.assert_frame_equal(out, df, check_exact=True)
    else:
        pd.testing.assert_series_equal(out, value, check_exact=True)
    import pyarrow.feather as feather

    assert feather.read_table(saved.path).num_rows == 1000  # plain Arrow, readable elsewhere


def test_small_frames_stay_parquet(tmp_path):
    saved, _ = roundtrip(pd.DataFrame({"a": [1, 2]}), tmp_path)
    assert saved.marshaller == "parquet"


def test_dataframe_object_strings_and_datetime_freq_are_restored(tmp_path):
    df = pd.DataFrame(
        {"s": ["a", "b"]},
        index=pd.date_range("2024-01-01", periods=2, freq="D", name="day"),
    ).astype({"s": object})
    assert df["s"].dtype == object
    saved, out = roundtrip(df, tmp_path)
    assert saved.marshaller == "parquet"
    pd.testing.assert_frame_equal(out, df, check_exact=True, check_freq=True)
    assert out["s"].dtype == object


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({0: [1, 2], 1: [3, 4]}),
        pd.DataFrame({"m": pd.Series(["a", 1, 2.5], dtype=object)}),
        pd.DataFrame({"l": pd.Series([[1], [2, 3]], dtype=object)}),
        pd.DataFrame({"z": [1 + 2j]}),
        pd.DataFrame([[1, 2]], columns=["a", "a"]),
    ],
    ids=["int-column-names", "mixed-object", "lists", "complex", "duplicate-columns"],
)
def test_dataframe_parquet_cannot_keep_falls_back_and_round_trips(tmp_path, df):
    saved, out = roundtrip(df, tmp_path)
    assert saved.marshaller != "parquet"
    pd.testing.assert_frame_equal(out, df, check_exact=True)


def test_dataframe_pyarrow_refusal_falls_back(tmp_path, monkeypatch):
    """Whatever pyarrow raises while writing (not just what we pre-check) falls back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def refuse(*args, **kwargs):
        raise pa.ArrowInvalid("no, thank you")

    monkeypatch.setattr(pq, "write_table", refuse)
    df = pd.DataFrame({"a": [1, 2]})
    saved, out = roundtrip(df, tmp_path)
    assert saved.marshaller == "cloudpickle"
    pd.testing.assert_frame_equal(out, df)
    assert leftovers(tmp_path) == ["v.pkl"]


@pytest.mark.parametrize("name", ["price", None, 3])
def test_series_round_trips_with_its_name(tmp_path, name):
    s = pd.Series([1.0, 2.5, np.nan], index=["a", "b", "c"], name=name)
    saved, out = roundtrip(s, tmp_path)
    assert saved.marshaller == "parquet"
    assert isinstance(out, pd.Series)
    assert out.name == name
    pd.testing.assert_series_equal(out, s, check_exact=True)


# --- numpy and scikit-learn -------------------------------------------------------------


def test_ndarray_goes_to_npy(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T  # non-contiguous, Fortran order
    saved, out = roundtrip(a, tmp_path)
    assert saved.marshaller == "npy"
    assert saved.path.endswith("v.npy")
    assert out.dtype == a.dtype and out.shape == a.shape
    np.testing.assert_array_equal(out, a)


def test_object_ndarray_falls_back(tmp_path):
    a = np.array([{"a": 1}, "text", None], dtype=object)
    saved, out = roundtrip(a, tmp_path)
    assert saved.marshaller != "npy"
    assert out.dtype == object
    assert list(out) == list(a)


def test_dict_of_arrays_goes_to_joblib(tmp_path):
    value = {"x": np.ones(3), "y": np.zeros(2)}
    saved, out = roundtrip(value, tmp_path)
    assert saved.marshaller == "joblib"
    np.testing.assert_array_equal(out["x"], value["x"])


def test_fitted_sklearn_model_goes_to_joblib_and_predicts_the_same(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    saved, out = roundtrip(model, tmp_path, name="model")
    assert saved.marshaller == "joblib"
    assert saved.path.endswith("model.joblib")
    np.testing.assert_array_equal(out.predict(x), model.predict(x))
    np.testing.assert_allclose(out.predict_proba(x), model.predict_proba(x))


def test_sklearn_model_with_a_lambda_falls_back_to_cloudpickle(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(lambda a: a * 2).fit(np.ones((2, 2)))
    saved, out = roundtrip(model, tmp_path)
    assert saved.marshaller == "cloudpickle"
    np.testing.assert_array_equal(out.transform(np.ones((1, 2))), [[2.0, 2.0]])


def test_a_lambda_goes_to_cloudpickle_even_after_dill_is_imported(tmp_path):
    """dill (which Airflow brings) teaches pickle's pure-Python pickler, and so joblib's, to
    store lambdas by value: the marshaller must not depend on what the process imported."""
    import dill  # noqa: F401 (imported for its side effect on pickle)
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(lambda a: a + 1).fit(np.ones((2, 2)))
    saved, out = roundtrip(model, tmp_path)
    assert saved.marshaller == "cloudpickle"
    np.testing.assert_array_equal(out.transform(np.ones((1, 2))), [[2.0, 2.0]])


# --- plain values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, "x", None, True], "c": {"d": False}},
        [1, 2, 3],
        "héllo \ud800",
        0,
        10**40,
        -0.0,
        2.5,
        True,
        None,
    ],
)
def test_plain_values_go_to_json(tmp_path, value):
    saved, out = roundtrip(value, tmp_path)
    assert saved.marshaller == "json"
    assert out == value
    assert type(out) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, out) == math.copysign(1, value)


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        [1, (2, 3)],
        float("nan"),
        float("inf"),
        {1: "a"},
        {"a": {2: "b"}},
        np.float64(1.5),
    ],
    ids=["tuple", "nested-tuple", "nan", "inf", "int-keys", "nested-int-keys", "np-float"],
)
def test_values_json_would_change_do_not_go_to_json(tmp_path, value):
    saved, out = roundtrip(value, tmp_path)
    assert saved.marshaller != "json"
    assert type(out) is type(value)
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(out)
    else:
        assert out == value
        assert repr(out) == repr(value)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def test_custom_instance_and_lambda_go_to_cloudpickle(tmp_path):
    saved, out = roundtrip(Point(1, 2), tmp_path, name="p")
    assert saved.marshaller == "cloudpickle"
    assert out == Point(1, 2)

    offset = 10
    saved, f = roundtrip(lambda x: x + offset, tmp_path, name="f")
    assert saved.marshaller == "cloudpickle"
    assert f(1) == 11


# --- values that cannot be passed -------------------------------------------------------


def test_open_file_raises_marshal_error_naming_the_variable(tmp_path):
    with open(tmp_path / "data.txt", "w") as fh:
        with pytest.raises(MarshalError) as info:
            save_value("fh", fh, tmp_path / "out")
    message = str(info.value)
    assert "variable 'fh'" in message
    assert "an open file, _io.TextIOWrapper" in message
    assert "pass its path instead" in message
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []


def test_generator_raises_marshal_error(tmp_path):
    with pytest.raises(MarshalError, match=r"variable 'rows' \(a generator.*list\(gen\)"):
        save_value("rows", (i for i in range(3)), tmp_path)


def test_module_raises_marshal_error(tmp_path):
    with pytest.raises(MarshalError, match=r"variable 'np' \(the module numpy.*import it"):
        save_value("np", np, tmp_path)


@pytest.mark.parametrize("kind", ["lock", "sqlite", "socket"])
def test_connections_and_locks_raise_marshal_error(tmp_path, kind):
    import socket
    import sqlite3
    import threading

    value = {
        "lock": threading.Lock,
        "sqlite": lambda: sqlite3.connect(":memory:"),
        "socket": socket.socket,
    }[kind]()
    try:
        with pytest.raises(MarshalError, match=r"variable 'x' \(a .*in the step that uses it"):
            save_value("x", value, tmp_path)
    finally:
        if kind != "lock":
            value.close()


def test_pickling_failure_becomes_marshal_error_with_original_message(tmp_path):
    import threading

    with pytest.raises(MarshalError) as info:
        save_value("state", {"lock": threading.Lock()}, tmp_path)
    assert "variable 'state'" in str(info.value)
    assert "cannot pickle '_thread.lock' object" in str(info.value)
    assert leftovers(tmp_path) == []


def test_marshal_error_names_the_step_when_given():
    error = MarshalError("f", "(an open file) cannot be passed", step="load")
    assert str(error).startswith("variable 'f' in step 'load' (an open file)")
    assert "in step 'train'" in str(MarshalError("f", "bad").with_step("train"))
    assert "in step" not in str(MarshalError("f", "bad"))


def test_invalid_variable_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="not a variable name"):
        save_value("../escape", 1, tmp_path)


# --- plugins ----------------------------------------------------------------------------


class UpperMarshaller:
    """A fake third-party marshaller: takes str values, stores them upper-cased."""

    name = "upper"
    suffix = ".upper"

    def can_save(self, value):
        return isinstance(value, str)

    def save(self, value, path):
        Path(path).write_text(value.upper())

    def load(self, path):
        return Path(path).read_text()


class FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"fake_pkg:{name}", obj

    def load(self):
        return self._obj


def test_entry_point_marshaller_is_consulted_before_builtins(tmp_path, monkeypatch):
    monkeypatch.setattr(marshal, "_entry_points", lambda: [FakeEntryPoint("up", UpperMarshaller)])
    saved, out = roundtrip("hello", tmp_path)
    assert saved.marshaller == "upper"
    assert saved.path.endswith("v.upper")
    assert out == "HELLO"
    # Values it does not take still go to the built-ins.
    assert save_value("n", 1, tmp_path).marshaller == "json"


def test_broken_entry_point_is_skipped_with_a_warning(tmp_path, monkeypatch):
    class Broken:
        name = "broken"
        value = "fake_pkg:broken"

        def load(self):
            raise ImportError("fake_pkg is not installed")

    monkeypatch.setattr(marshal, "_entry_points", lambda: [Broken()])
    with pytest.warns(UserWarning, match="'broken'.*fake_pkg is not installed"):
        assert save_value("v", "x", tmp_path).marshaller == "json"


def test_loading_with_a_marshaller_not_installed_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(marshal, "_entry_points", lambda: [FakeEntryPoint("up", UpperMarshaller)])
    saved = save_value("v", "hello", tmp_path)
    monkeypatch.setattr(marshal, "_entry_points", lambda: [])
    with pytest.raises(MarshalError, match="'upper' marshaller, which is not installed"):
        load_value(saved)


# --- hashes, records, atomicity ---------------------------------------------------------


def test_hash_is_of_the_file_equal_for_equal_values_and_changes_with_the_value(tmp_path):
    import hashlib

    df = pd.DataFrame({"a": [1, 2, 3]})
    first = save_value("df", df, tmp_path / "one")
    second = save_value("df", df.copy(), tmp_path / "two")
    changed = save_value("df", df.assign(a=[1, 2, 4]), tmp_path / "three")
    assert first.sha256 == second.sha256
    assert changed.sha256 != first.sha256
    data = Path(first.path).read_bytes()
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.size == len(data)

    assert save_value("d", {"k": 1}, tmp_path).sha256 == save_value("e", {"k": 1}, tmp_path).sha256
    assert save_value("d", {"k": 1}, tmp_path).sha256 != save_value("d", {"k": 2}, tmp_path).sha256


def test_saved_value_dict_form_is_json_and_loads(tmp_path):
    saved = save_value("v", [1, 2], tmp_path)
    record = saved.to_dict()
    assert isinstance(record["path"], str)
    assert json.loads(json.dumps(record)) == record
    assert SavedValue.from_dict(record) == saved
    assert load_value(record) == [1, 2]
    with pytest.raises(ValueError, match="missing sha256"):
        load_value({"name": "v", "marshaller": "json", "path": saved.path, "size": 1})


def rewrite_later(path: str, text: str) -> None:
    """Rewrite a file as a later writer would: same size here, a newer modification time
    (set explicitly, since two writes within one clock tick of the file system share one)."""
    before = os.stat(path).st_mtime_ns
    Path(path).write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_load_detects_a_file_changed_since_it_was_saved(tmp_path):
    saved = save_value("v", {"a": 1}, tmp_path)
    rewrite_later(saved.path, '{"a": 2}')
    with pytest.raises(MarshalError, match="variable 'v' could not be loaded.*changed"):
        load_value(saved)
    assert load_value(saved, verify=False) == {"a": 2}
    os.remove(saved.path)
    with pytest.raises(MarshalError, match="does not exist"):
        load_value(saved)


def test_load_trusts_an_unchanged_file_by_its_stat_and_hashes_otherwise(tmp_path, monkeypatch):
    saved = save_value("v", {"a": 1}, tmp_path)
    assert saved.mtime_ns == os.stat(saved.path).st_mtime_ns
    hashed: list[Path] = []
    real_hash = marshal.file_sha256
    monkeypatch.setattr(marshal, "file_sha256", lambda p: hashed.append(p) or real_hash(p))

    assert load_value(saved) == {"a": 1}
    assert hashed == []  # same size and time as saved: the file written then
    old_record = {k: v for k, v in saved.to_dict().items() if k != "mtime_ns"}
    assert load_value(old_record) == {"a": 1}  # a record from before mtime_ns: hashed
    assert hashed == [Path(saved.path)]


def test_failed_save_leaves_neither_final_nor_temporary_file(tmp_path, monkeypatch):
    def half_write(self, value, path):
        Path(path).write_text('{"half": ')
        raise OSError("disk full")

    monkeypatch.setattr(marshal.JsonMarshaller, "save", half_write)
    with pytest.raises(OSError, match="disk full"):
        save_value("v", {"a": 1}, tmp_path)
    assert leftovers(tmp_path) == []


def test_failed_save_keeps_the_previous_complete_file(tmp_path, monkeypatch):
    good = save_value("v", {"a": 1}, tmp_path)

    def half_write(self, value, path):
        Path(path).write_text('{"half": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(marshal.JsonMarshaller, "save", half_write)
    with pytest.raises(KeyboardInterrupt):
        save_value("v", {"a": 2}, tmp_path)
    assert leftovers(tmp_path) == ["v.json"]
    assert load_value(good) == {"a": 1}


def test_declining_marshaller_cleans_up_before_the_next_one(tmp_path, monkeypatch):
    def decline(self, value, path):
        Path(path).write_text("partial")
        raise CannotMarshal("not today")

    monkeypatch.setattr(marshal.JsonMarshaller, "save", decline)
    saved, out = roundtrip({"a": 1}, tmp_path)
    assert saved.marshaller == "cloudpickle"
    assert out == {"a": 1}
    assert leftovers(tmp_path) == ["v.pkl"]


# --- import cost ------------------------------------------------------------------------


def test_import_and_plain_saves_do_not_import_heavy_modules(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        import liminal_jupyter.step.marshal as m
        heavy = ("pandas", "sklearn", "pyarrow", "numpy", "joblib", "cloudpickle")
        assert not [h for h in heavy if h in sys.modules], [h for h in heavy if h in sys.modules]
        for value in ({{"a": [1, 2.5]}}, "text", None, 3):
            m.load_value(m.save_value("v", value, {str(tmp_path)!r}))
        for h in ("pandas", "sklearn", "pyarrow", "numpy"):
            assert h not in sys.modules, h
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_notebook_defined_class_with_arrays_is_stored_by_value(tmp_path):
    """joblib would store a `__main__` class by reference, which the next kernel lacks."""
    code = textwrap.dedent(
        f"""
        import json
        import numpy as np
        from liminal_jupyter.step.marshal import save_value

        class Holder:
            def __init__(self):
                self.weights = np.arange(3)

            def total(self):
                return int(self.weights.sum())

        saved = save_value("h", Holder(), {str(tmp_path)!r})
        print(json.dumps(saved.to_dict()))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["marshaller"] == "cloudpickle"
    assert load_value(record).total() == 3
