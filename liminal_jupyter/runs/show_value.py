"""`liminal-nb show RUN VAR [--export FILE]`: one kept value, summarised or written out."""

from __future__ import annotations

import sys

from liminal_jupyter.runs.store import RunStore

EXIT_OK, EXIT_INVALID = 0, 2


def show_value(store: RunStore, run_id: str, variable: str | None, step: str | None,
               export_to: str | None) -> int:
    """Print the value's summary, or export it; a clear error and exit 2 when it cannot."""
    from liminal_jupyter.runs.values import ValueNotFound, export, find_saved, load_saved, summary
    from liminal_jupyter.step.marshal import MarshalError

    if not variable:
        print("error: --export needs the value to write: liminal-nb show RUN VAR --export FILE",
              file=sys.stderr)
        return EXIT_INVALID
    try:
        owner, saved = find_saved(store, run_id, variable, step)
        if saved.get("marshaller") == "cloudpickle":
            print(f"note: {variable} was saved with cloudpickle; loading it runs code, with "
                  "the same trust as the run that made it.", file=sys.stderr)
        value = load_saved(saved)
    except (ValueNotFound, MarshalError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, ValueNotFound) else exc}",
              file=sys.stderr)
        return EXIT_INVALID
    if export_to:
        try:
            path = export(value, export_to)
        except ValueError as exc:
            print(f"error: {variable}: {exc}", file=sys.stderr)
            return EXIT_INVALID
        print(f"wrote {variable} (step {owner} of run {run_id}) to {path}")
        return EXIT_OK
    print(f"{variable}  (step {owner} of run {run_id}, {saved.get('marshaller')}, "
          f"{saved.get('size')} bytes)")
    print(summary(value))
    return EXIT_OK
