"""Kubeflow Pipelines v2 backend: compile a notebook's pipeline to KFP IR YAML.

`compile.py` turns the IR (`liminal_jupyter.pipeline.Pipeline`) into a generated KFP DSL
module (one lightweight Python component per step) and compiles it with the kfp SDK's own
compiler; `runtime.py` is what each component calls inside its pod; `commands.py` is
`liminal-nb compile`. kfp itself is imported only when compiling.
"""
