"""Running one step of a pipeline: its notebook, its executor, and the values it passes on.

Each step runs in its own kernel, so every variable that flows from one step to the next
is saved to a file by the producing step and loaded by the consuming one
(see `liminal_jupyter.step.marshal`). Kept import-light: submodules import what they need.
"""
