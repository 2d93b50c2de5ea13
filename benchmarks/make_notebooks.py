"""Generate large, realistic tagged notebooks for benchmarks and fast-path tests.

A generated notebook looks like a long notebook a data scientist would tag by hand: a
title, a `parameters` cell with typed parameters, an `imports` cell, then about one step
(`step:s1`, `step:s2`, ...) per ten cells, with markdown section headings between them, and
a `metrics` cell at the end. Each step reads one or two variables that earlier steps
define, assigns new ones, mutates them with method calls (`rows.append(...)`,
`stats.update(...)`), and uses comprehensions, a lambda, loops and an occasional
`%time` line magic or `!echo {var}` shell line (unless `magics=False`).

The code only uses the standard library, so the notebook also runs. Output is
deterministic for a given (cells, steps, magics, seed): cell ids are numbered, not random.

    python benchmarks/make_notebooks.py big.ipynb --cells 500
    python benchmarks/make_notebooks.py plain.ipynb --cells 500 --no-magics
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import nbformat
from nbformat import v4

PARAMETERS = """\
n_rows: int = 200  # rows per batch, range: 10..10000
learning_rate = 0.05  # type: float
dataset = "iris"  # which data set to load
use_cache = True
"""

IMPORTS = """\
import json
import math
import random
import statistics
from collections import Counter, defaultdict
"""


def _step_cells(
    k: int, earlier: list[int], rng: random.Random, size: int, magics: bool
) -> list[str]:
    """Sources of the `size` code cells of step k; `earlier` are the numbers of earlier steps."""
    if earlier:
        a = rng.choice(earlier)
        b = rng.choice(earlier)
        first = [
            f"rows_{k} = [v * learning_rate + i for i, v in enumerate(rows_{a}) if v > 0]\n"
            f'stats_{k} = {{"n": len(rows_{k}), "source": stats_{b}["n"]}}',
        ]
    else:
        first = [
            "random.seed(len(dataset))\n"
            f"rows_{k} = [random.random() * n_rows for _ in range(n_rows)]\n"
            f'stats_{k} = {{"n": len(rows_{k}), "source": dataset}}',
        ]
    pool = [
        f"rows_{k}.append(sum(rows_{k}) / max(len(rows_{k}), 1))\n"
        f"stats_{k}.update(mean=statistics.fmean(rows_{k}))",
        f"key_{k} = lambda v: (round(v) % 7, -v)\ntop_{k} = sorted(rows_{k}, key=key_{k})[:10]",
        f"buckets_{k} = defaultdict(list)\n"
        f"for value in rows_{k}:\n"
        f"    buckets_{k}[int(value) % 5].append(value)\n"
        f'stats_{k}["buckets"] = {{b: len(vs) for b, vs in buckets_{k}.items()}}',
        f"counts_{k} = Counter(int(v) % 3 for v in rows_{k})\nstats_{k}.update(counts_{k})",
        f"scale_{k} = max(rows_{k}, default=1.0) or 1.0\n"
        f"rows_{k} = [v / scale_{k} for v in rows_{k}]",
        f'pairs_{k} = {{f"r{{i}}": round(v, 3) for i, v in enumerate(rows_{k}[:5])}}\n'
        f"print(json.dumps(pairs_{k}))",
        f"if use_cache and len(rows_{k}) > 3:\n"
        f"    rows_{k} = rows_{k}[:-1]\n"
        f"else:\n"
        f"    rows_{k}.extend(math.sqrt(abs(v)) for v in rows_{k}[:3])",
        f"def summarize_{k}(values, *, digits=2):\n"
        f"    total = sum(values)\n"
        f'    return {{"total": round(total, digits), "count": len(values)}}\n'
        f"\n"
        f"summary_{k} = summarize_{k}(rows_{k})",
        f"stats_{k}",
    ]
    if earlier and len(earlier) > 1:
        c = rng.choice(earlier)
        pool.append(f'stats_{k}["prior_total"] = sum(rows_{c}) + stats_{k}["n"]')
    last = [f'score_{k} = math.fsum(rows_{k}) / (1 + stats_{k}["n"])']
    if magics and k % 4 == 0:
        last = [f'%time score_{k} = math.fsum(rows_{k}) / (1 + stats_{k}["n"])']
    if magics and k % 5 == 0:
        last.append(f"!echo step {k} score {{score_{k}}}")
    middle_count = max(size - len(first) - len(last), 0)
    middle = [pool[(k + i) % len(pool)] for i in range(middle_count)]
    cells = first + middle + last
    if size < len(cells):  # very small notebooks: keep the first and the score cell
        cells = [cells[0], "\n".join(cells[1:])] if size > 1 else ["\n".join(cells)]
    return cells


def make_notebook(
    cells: int = 500, steps: int | None = None, *, magics: bool = True, seed: int = 0
) -> nbformat.NotebookNode:
    """A tagged notebook of about `cells` cells (exactly, when cells >= 20)."""
    rng = random.Random(seed)
    steps = steps or max(1, cells // 10)
    headings = max(1, steps // 10)  # a markdown section heading every ten steps
    fixed = 1 + 1 + 1 + 1 + headings  # title, parameters, imports, metrics, headings
    step_total = max(cells - fixed, steps)
    sizes = [step_total // steps + (1 if i < step_total % steps else 0) for i in range(steps)]

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["liminal"] = {
        "name": f"bench-{cells}-cells",
        "description": "generated by benchmarks/make_notebooks.py",
    }
    out = nb.cells
    out.append(v4.new_markdown_cell(f"# Benchmark pipeline\n\n{cells} cells in {steps} steps."))
    out.append(v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}))
    out.append(v4.new_code_cell(IMPORTS, metadata={"tags": ["imports"]}))
    for k in range(1, steps + 1):
        if (k - 1) % 10 == 0:
            out.append(v4.new_markdown_cell(f"## Stage {(k - 1) // 10 + 1}\n\nSteps {k} onwards."))
        for i, source in enumerate(_step_cells(k, list(range(1, k)), rng, sizes[k - 1], magics)):
            tags = [f"step:s{k}"] if i == 0 else []
            if i == 0 and k % 7 == 0:
                tags.append("retries:1")
            out.append(v4.new_code_cell(source, metadata={"tags": tags} if tags else {}))
    metrics = "\n".join([f"score_{steps}", f"print(stats_{steps}['n'])"])
    out.append(v4.new_code_cell(metrics, metadata={"tags": ["metrics"]}))
    for index, cell in enumerate(out):
        cell.id = f"cell-{index:04d}"
    return nb


def write_notebook(path: str | Path, cells: int = 500, **options) -> Path:
    """Generate a notebook and write it to `path`; return the path."""
    path = Path(path)
    path.write_text(nbformat.writes(make_notebook(cells, **options)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="path of the .ipynb file to write")
    parser.add_argument("--cells", type=int, default=500, help="number of cells (default 500)")
    parser.add_argument("--steps", type=int, default=None, help="number of steps (cells / 10)")
    parser.add_argument("--no-magics", action="store_true", help="no %%time or ! lines")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    nb = make_notebook(args.cells, args.steps, magics=not args.no_magics, seed=args.seed)
    Path(args.output).write_text(nbformat.writes(nb), encoding="utf-8")
    print(f"wrote {args.output} ({len(nb.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
