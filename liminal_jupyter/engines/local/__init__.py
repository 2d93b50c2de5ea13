"""The local runner's persistence: the run store (SQLite index + run folders) and the step cache."""
