"""MLflow tracking of pipeline runs: one MLflow run per pipeline run, a nested run per step.

One job a module: `uri` (which tracking store: the one resolver), `session` (talking to
MLflow safely from a busy process), `run` (the tracker: the run lifecycle), `models`
(flavors and input examples), `registry` (versions, and the aliases and tags a promotion
decision asks for), `profile` (the training data's profile for drift monitoring).
The tracker sets; policy (whether to promote) is decided elsewhere (deploy/gate.py).
"""
