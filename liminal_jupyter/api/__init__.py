"""The Python API: a notebook's pipeline, its runs, from a notebook or a script.

    from liminal_jupyter import Pipeline
    pipeline = Pipeline.from_notebook("train.ipynb")
    run = pipeline.run(n_estimators=50)

See docs/python-api.md.
"""

from liminal_jupyter.api.jupyter import NotebookUnknown
from liminal_jupyter.api.pipeline import Pipeline, PipelineInvalid
from liminal_jupyter.api.run import Run, RunSnapshot

__all__ = ["NotebookUnknown", "Pipeline", "PipelineInvalid", "Run", "RunSnapshot"]
