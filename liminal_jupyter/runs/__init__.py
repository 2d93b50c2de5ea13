"""The runs ledger: every engine's runs, recorded in one store beside the notebook.

`location` knows where `.liminal/` is; `store` is the SQLite index and the run folders;
`progress` the events a run emits and the reporters that show them; `launch` starts a run
in a child process; `commands` are `liminal-nb runs`, `show` and `logs`. Nothing here
imports an engine: engines import this.
"""
