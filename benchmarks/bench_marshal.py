"""Passing a large DataFrame between steps: our marshaller (Parquet) next to pickle.

The claim under test: a DataFrame passed between steps is saved and loaded within 2 times
the time of pickle, in a format readable outside Python (Parquet, not a pickle).

One run builds a seeded DataFrame of `--rows` rows (default 10 million) with the column
kinds a tabular data set has: int64, float64, a categorical of 8 string labels, a short
string column (pandas' default `str` dtype) and a bool. Then, interleaved and `--repeat`
times, on files in a temporary directory:

  save_value / load_value   what a step does with a variable later steps read: checks the
                            frame round-trips through Parquet, `pa.Table.from_pandas`,
                            `pq.write_table` (pyarrow defaults: snappy, dictionary
                            encoding), sha256 of the bytes written, atomic rename;
                            load checks the sha256, `pq.read_table`, `to_pandas`.
  pickle protocol 5         `pickle.dump(df, f, protocol=5)` to a file and `pickle.load`:
                            the baseline, readable only by Python (and the same pandas).
  pickle + sha256           the same, plus the integrity check save_value and load_value
                            do (the content hash the cache and --resume trust), so the
                            format itself can be compared.

It reports min and median seconds of each, the file size, and the ratios against the goal.
It then times the pieces of the Parquet path (best of two passes each: the profile) to
show where the time goes, what pyarrow's write options (compression, dictionary encoding,
statistics) would change, and, for reference, Arrow IPC (Feather v2), the other columnar
format readable outside Python. The round trip is checked: the loaded frame equals the
original (`DataFrame.equals`, dtypes included); a marshaller other than Parquet fails the run.

Loads read from the OS page cache (the file was just written), as the next step on the
same machine usually does. Memory: the frame is ~300 MB at 10M rows; the process peaks at
about 2 GB (a loaded copy, the Arrow table, pickle.dumps' bytes in the profile).

    .venv/bin/python benchmarks/bench_marshal.py [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from liminal_jupyter.step.marshal import load_value, marshallers, save_value

GOAL = 2.0  # ours / pickle, at most, for save and for load
LABELS = ["setosa", "versicolor", "virginica", "other", "a", "bb", "ccc", "dddd"]
CITIES = np.array(
    [
        "Oslo",
        "Lima",
        "Paris",
        "Tokyo",
        "Cairo",
        "Quito",
        "Rome",
        "Perth",
        "Delhi",
        "Accra",
        "Hanoi",
        "Bern",
    ],
    dtype=object,
)


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "value": rng.standard_normal(rows),
            "label": pd.Categorical.from_codes(
                rng.integers(0, len(LABELS), rows, dtype=np.int8), categories=LABELS
            ),
            "city": pd.array(CITIES[rng.integers(0, len(CITIES), rows)], dtype="str"),
            "flag": rng.random(rows) < 0.3,
        }
    )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best(fn: Callable[[], object]) -> tuple[float, object]:
    first, _ = timed(fn)
    second, result = timed(fn)
    return min(first, second), result


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def pickle_save(df: pd.DataFrame, path: Path, durable: bool = False) -> str | None:
    with open(path, "wb") as f:
        pickle.dump(df, f, protocol=5)
    return sha256_of(path) if durable else None


def pickle_load(path: Path, digest: str | None = None) -> pd.DataFrame:
    if digest is not None and sha256_of(path) != digest:
        raise SystemExit(f"{path} changed since it was saved")
    with open(path, "rb") as f:
        return pickle.load(f)


def mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    t_make, df = timed(lambda: make_frame(args.rows))
    print(
        f"{args.rows:,} rows, {df.memory_usage(deep=True).sum() / 1e6:.0f} MB in memory "
        f"(dtypes: {', '.join(f'{c} {t}' for c, t in df.dtypes.items())}); built in "
        f"{t_make:.1f}s. pandas {pd.__version__}, pyarrow {pa.__version__}, "
        f"numpy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores\n",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench-marshal-") as tmp:
        root = Path(tmp)
        ours_dir, pkl, pkl_durable = root / "ours", root / "df.pkl", root / "df-durable.pkl"
        rows: dict[str, dict[str, list[float]]] = {
            name: {"save": [], "load": []}
            for name in ("save_value / load_value", "pickle protocol 5", "pickle + sha256")
        }
        sizes: dict[str, int] = {}
        for i in range(args.repeat):
            t, saved = timed(lambda: save_value("df", df, ours_dir))
            chosen = saved.marshaller  # 'arrow' (Arrow IPC) over 64 MiB, else 'parquet'
            rows["save_value / load_value"]["save"].append(t)
            t, back = timed(lambda saved=saved: load_value(saved))
            rows["save_value / load_value"]["load"].append(t)
            if i == 0 and (not back.equals(df) or list(back.dtypes) != list(df.dtypes)):
                raise SystemExit(f"the {chosen} round trip changed the frame:\n{back.dtypes}")
            sizes["save_value / load_value"] = saved.size
            del back

            t, _ = timed(lambda: pickle_save(df, pkl))
            rows["pickle protocol 5"]["save"].append(t)
            t, back = timed(lambda: pickle_load(pkl))
            rows["pickle protocol 5"]["load"].append(t)
            sizes["pickle protocol 5"] = pkl.stat().st_size
            del back

            t, digest = timed(lambda: pickle_save(df, pkl_durable, durable=True))
            rows["pickle + sha256"]["save"].append(t)
            t, back = timed(lambda digest=digest: pickle_load(pkl_durable, digest))
            rows["pickle + sha256"]["load"].append(t)
            sizes["pickle + sha256"] = pkl_durable.stat().st_size
            del back
            print(f"  repeat {i + 1}/{args.repeat} done", flush=True)

        print(f"\n{args.repeat} repeats, seconds (min / median); our marshaller chose "
              f"'{chosen}'\n")
        print(f"  {'':<26} {'save min':>9} {'median':>7} {'load min':>9} {'median':>7} {'file':>8}")
        med = {}
        for name, t in rows.items():
            med[name] = {k: statistics.median(v) for k, v in t.items()}
            print(
                f"  {name:<26} {min(t['save']):>8.2f}s {med[name]['save']:>6.2f}s "
                f"{min(t['load']):>8.2f}s {med[name]['load']:>6.2f}s {mb(sizes[name]):>8}"
            )

        ours, base = med["save_value / load_value"], med["pickle protocol 5"]
        fair = med["pickle + sha256"]
        print(
            "\nratios of medians, ours / pickle (goal: at most "
            f"{GOAL:.0f}x, in a format readable outside Python):"
        )
        for label, ref in (("pickle protocol 5", base), ("pickle + sha256", fair)):
            save, load = ours["save"] / ref["save"], ours["load"] / ref["load"]
            both = (ours["save"] + ours["load"]) / (ref["save"] + ref["load"])
            ok = "met" if max(save, load) <= GOAL else "NOT met"
            print(
                f"  vs {label:<24} save {save:5.2f}x  load {load:5.2f}x  round trip "
                f"{both:5.2f}x  -> {ok}"
            )
        share = sizes["save_value / load_value"] / sizes["pickle protocol 5"]
        print(
            f"  file size: ours ({chosen}) is {share:.2f}x the pickle. Arrow IPC and Parquet are "
            "read by Arrow (C++, Java, R, ...), Spark, DuckDB, polars; the pickle only by "
            "Python with pandas"
        )

        profile(df, root)
    return 0


def profile(df: pd.DataFrame, root: Path) -> None:
    """Where the Parquet path's time goes, one piece at a time (best of two passes each)."""
    print("\nprofile of the Parquet path (best of two passes each), seconds:")
    text_columns = [c for c in df.columns if df[c].dtype.kind not in "biufcmM"]
    t, table = best(lambda: pa.Table.from_pandas(df))
    print(f"  {'pa.Table.from_pandas':<42} {t:6.2f}")
    for label, options in (
        ("pq.write_table, snappy (default, ours)", {}),
        ("pq.write_table, no compression", {"compression": "none"}),
        ("pq.write_table, zstd", {"compression": "zstd"}),
        ("pq.write_table, lz4", {"compression": "lz4"}),
        ("pq.write_table, snappy, no dictionary", {"use_dictionary": False}),
        ("pq.write_table, dictionary for label/city", {"use_dictionary": text_columns}),
        ("  the same, no statistics", {"use_dictionary": text_columns, "write_statistics": False}),
    ):
        path = root / "profile.parquet"
        t, _ = best(
            lambda options=options, path=path, table=table: pq.write_table(
                table, str(path), **options
            )
        )
        size = path.stat().st_size
        t_read, _ = best(lambda path=path: pq.read_table(str(path)))
        print(f"  {label:<42} {t:6.2f}   read_table {t_read:5.2f}   file {mb(size):>7}")
    for compression in ("uncompressed", "lz4"):  # Arrow IPC: also readable outside Python
        path = root / "profile.arrow"
        t, _ = best(
            lambda compression=compression, path=path, table=table: feather.write_feather(
                table, str(path), compression=compression
            )
        )
        size = path.stat().st_size
        t_read, _ = best(lambda path=path: feather.read_table(str(path)))
        print(
            f"  {'feather (Arrow IPC) write, ' + compression:<42} {t:6.2f}   "
            f"read_table {t_read:5.2f}   file {mb(size):>7}"
        )
    path = root / "profile.parquet"
    pq.write_table(table, str(path))
    t, _ = best(lambda: sha256_of(path))
    print(f"  {'sha256 of the file (save; a load that must verify)':<42} {t:6.2f}")
    t, read = best(lambda: pq.read_table(str(path)))
    print(f"  {'pq.read_table':<42} {t:6.2f}")
    t, _ = best(read.to_pandas)
    print(f"  {'Table.to_pandas':<42} {t:6.2f}")
    read = table = None
    t, _ = best(marshallers)
    print(f"  {'marshallers() (entry-point scan, per call)':<42} {t:6.2f}")
    t, _ = best(lambda: pickle.dumps(df, protocol=5))
    print(f"  {'pickle.dumps (in memory, for reference)':<42} {t:6.2f}")


if __name__ == "__main__":
    sys.exit(main())
