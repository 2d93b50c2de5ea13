"""Files a local step writes beside the notebook are brought into the run's folder, as
every engine does (`steps/STEP/files/`), and `liminal-nb show` lists them: a user finds
what a run wrote in the run, even after the next run overwrote the one beside the
notebook. Only what the step created or changed at the paths it writes is copied."""

from __future__ import annotations

import json

from conftest import code, notebook_json

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore

CELLS = [
    code("import pathlib\nimport pandas as pd", "imports"),
    code("n = 3", "parameters"),
    code("frame = pd.DataFrame({'x': range(n)})\nframe.to_csv('out/table.csv', index=False)\n"
         "pathlib.Path('summary.txt').write_text(f'rows={n}')", "step:write"),
    code("untouched = open('notes.txt').read()", "step:read_only"),
]


def test_a_local_run_keeps_what_each_step_wrote_in_the_run_and_show_lists_it(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("read, never written\n")
    notebook = tmp_path / "writes.ipynb"
    notebook.write_text(json.dumps(notebook_json(CELLS)))
    assert main(["inspect", "--json", str(notebook)]) == 0
    steps = {s["name"]: s for s in json.loads(capsys.readouterr().out)["steps"]}
    assert steps["write"]["writes"] == ["out/table.csv", "summary.txt"]
    assert steps["read_only"]["writes"] == []

    store = RunStore(tmp_path / ".liminal")
    kept = {}
    for n in (3, 5):
        assert main(["run", "--no-tracking", "--no-cache", "-q", "-p", f"n={n}",
                     str(notebook)]) == 0, capsys.readouterr().err
        run_id = store.list_runs(limit=1)[0].run_id
        kept[n] = store.step_dir(run_id, "write") / "files"
        assert not (store.step_dir(run_id, "read_only") / "files").exists()
    # Each run kept its own copy; the one beside the notebook is the latest.
    assert (kept[3] / "summary.txt").read_text() == "rows=3"
    assert (kept[5] / "summary.txt").read_text() == "rows=5"
    assert (kept[5] / "out" / "table.csv").read_text().split() == ["x", "0", "1", "2", "3", "4"]
    assert (tmp_path / "summary.txt").read_text() == "rows=5"

    capsys.readouterr()
    assert main(["show", run_id, "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "files:   out/table.csv, summary.txt" in out


def test_a_cached_writer_restores_the_file_a_later_step_reads_when_it_was_deleted(
        tmp_path, capsys):
    """The writer is a cache hit, so it does not write: the reader still finds the file,
    copied back from the run that computed the hit."""
    notebook = tmp_path / "edge.ipynb"
    notebook.write_text(json.dumps(notebook_json([
        code("open('handed.txt', 'w').write('from the writer')", "step:writer"),
        code("text = open('handed.txt').read()\nsize = len(text)", "step:reader"),
        code("size", "metrics"),
    ])))
    store = RunStore(tmp_path / ".liminal")
    assert main(["run", "--no-tracking", "-q", str(notebook)]) == 0, capsys.readouterr().err
    (tmp_path / "handed.txt").unlink()
    assert main(["run", "--no-tracking", "-q", str(notebook)]) == 0, capsys.readouterr().err
    run_id = store.list_runs(limit=1)[0].run_id
    steps = {s.step: s for s in store.steps(run_id)}
    assert steps["writer"].status == "cached"
    assert steps["reader"].status in ("cached", "succeeded")
    assert (tmp_path / "handed.txt").read_text() == "from the writer"
