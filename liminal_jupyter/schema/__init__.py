"""JSON Schemas of the pipeline IR (`liminal-nb inspect --json`), shipped with the package."""
