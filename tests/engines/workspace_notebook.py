"""A notebook that reads its files as real notebooks do, for the workspace tests: data
through a variable holding the folder, a YAML config, a helper module imported from beside
it, and a step that writes report.csv that a later step reads (a file edge)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import code, notebook_json

HELPERS = '''\
def summarize(frame, column):
    """Rows per value of `column`, as a frame with columns [column, "value"]."""
    return frame.groupby(column).size().reset_index(name="value")
'''


def write_workspace_notebook(folder: Path, settings: dict | None = None) -> Path:
    """folder/reads_files.ipynb with data/train.csv, config.yaml and helpers.py beside it;
    settings: the notebook's `liminal` metadata."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    rows = ["kind,size"] + [f"{'ab'[i % 2]},{i}" for i in range(11)]
    (folder / "data" / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "config.yaml").write_text("column: kind\nscale: 3\n", encoding="utf-8")
    (folder / "helpers.py").write_text(HELPERS, encoding="utf-8")
    cells = [
        code("import pandas as pd\nimport yaml\nimport helpers", "imports"),
        code('folder = "data/"\ntrain = pd.read_csv(folder + "train.csv")\n'
             'with open("config.yaml") as f:\n    config = yaml.safe_load(f)', "step:load"),
        code('summary = helpers.summarize(train, config["column"])\n'
             'summary["value"] = summary["value"] * config["scale"]\n'
             'summary.to_csv("report.csv", index=False)', "step:report"),
        code('back = pd.read_csv("report.csv")\ntotal = float(back["value"].sum())\n'
             'rows = len(train)', "step:check"),
        code("total\nrows", "metrics"),
    ]
    path = folder / "reads_files.ipynb"
    metadata = {"liminal": settings} if settings else None
    path.write_text(json.dumps(notebook_json(cells, metadata)), encoding="utf-8")
    return path
