"""A pipeline file (`liminal.yml`): several notebooks, in order, as one pipeline.

Real projects split the work into a `load`, a `features` and a `train` notebook. The file
beside them lists them and holds the pipeline-wide settings; each notebook keeps its own
tags and steps. The result is the one IR (`Pipeline`): the steps of every notebook form
one DAG, each step names its notebook (`Step.notebook`), and each notebook's prelude and
parameters cells are kept apart (`Pipeline.notebooks`), so a step runs its own notebook's
imports, never another's.

Data edges across notebooks are found as within one: the notebooks are analysed in the
file's order, each starting from what the earlier ones left (who last bound each name),
so a name a step of `train.ipynb` reads that a step of `features.ipynb` defines becomes
an input of that step. Step names are qualified by their notebook (`features.clean`)
only where two notebooks use the same name. `inputs:` in the file overrides the inferred
producer of a value. Errors in the file name its line (yaml's node marks).
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from liminal_jupyter.diagnostics import Diagnostic, Diagnostics, Location, NotebookError
from liminal_jupyter.notebook.keep import kept_names
from liminal_jupyter.notebook.reader import read_notebook
from liminal_jupyter.notebook.sections import slug
from liminal_jupyter.notebook.settings import KNOWN_SETTINGS
from liminal_jupyter.pipeline import CellRef, NotebookPart, Parameter, Pipeline, Step, StepInput

PIPELINE_FILE_SUFFIXES = (".yml", ".yaml")
"""A path with one of these suffixes is read as a pipeline file, any other as a notebook."""

# The file's own keys; every other known key is a pipeline setting (notebook/settings.py).
_OWN_KEYS = ("name", "description", "notebooks", "parameters", "inputs", "tracking")
_SETTING_KEYS = tuple(k for k in KNOWN_SETTINGS if k not in ("name", "description", "test"))
_KNOWN_KEYS = (*_OWN_KEYS, *_SETTING_KEYS)
_PARAMETER_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list",
                    dict: "dict"}


def is_pipeline_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PIPELINE_FILE_SUFFIXES


def _tracking_uri(value: Any) -> Any:
    """`tracking:` as written, a URI or {uri: URI}: the URI (any other value as it is, for
    the caller to refuse)."""
    return value.get("uri") if isinstance(value, dict) else value


def written_settings(path: Path) -> dict[str, Any]:
    """The file's top-level keys as written, its `tracking` as `mlflow_uri`, without reading
    its notebooks or checking anything; {} when it cannot be read (metadata_settings)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    settings = {str(k): v for k, v in data.items() if k != "tracking"}
    tracking = _tracking_uri(data.get("tracking"))
    if isinstance(tracking, str):
        settings["mlflow_uri"] = tracking
    return settings


def pipeline_file_of(notebook: str | Path) -> tuple[Path, str] | None:
    """The pipeline file beside `notebook` (or in a folder above it) that lists it, and the
    notebook's path in it; None when it belongs to none. A file that cannot be read is
    taken as listing nothing here (parsing it says why)."""
    import yaml

    notebook = Path(notebook).resolve()
    for folder in list(notebook.parents)[:4]:
        for name in ("liminal.yml", "liminal.yaml"):
            candidate = folder / name
            if not candidate.is_file():
                continue
            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            listed = data.get("notebooks") if isinstance(data, dict) else None
            for entry in listed if isinstance(listed, list) else []:
                entry = entry.get("path") if isinstance(entry, dict) else entry
                if isinstance(entry, str) and (folder / entry).resolve() == notebook:
                    return candidate, posixpath.normpath(entry.replace("\\", "/"))
    return None


def parse_pipeline_file(path: str | Path, display_path: str | None = None) -> Pipeline:
    """Read a pipeline file and the notebooks it lists into one Pipeline.

    Raises NotebookError (naming the file and line, or the notebook) when the file or a
    notebook cannot be read, or the file is malformed; problems in the notebooks' tags and
    code are the Pipeline's diagnostics, as for one notebook."""
    path = Path(path)
    shown = display_path or str(path)
    spec = _Spec(_read(path, shown), shown)
    return _Merger(spec, path.resolve().parent).build()


def _read(path: Path, shown: str) -> str:
    where = Location(shown)
    if not path.exists():
        raise NotebookError.single("not-found", "no such file.", where)
    if path.is_dir():
        raise NotebookError.single("is-directory", "this is a directory; give the path of a "
                                   "notebook or a liminal.yml pipeline file.", where)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError.single("unreadable", f"cannot read the file: {exc}.", where) from None


class _Spec:
    """The file's content, checked, with the line of every key and list item."""

    def __init__(self, text: str, shown: str):
        import yaml

        self.shown = shown
        self.diags = Diagnostics()
        try:
            loader = yaml.SafeLoader(text)
            try:
                node = loader.get_single_node()
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise NotebookError.single("bad-yaml", f"this is not valid YAML: {problem}.",
                                       Location(shown, line=mark.line + 1 if mark else None)
                                       ) from None
        if not isinstance(data, dict):
            raise NotebookError.single(
                "bad-pipeline-file", "a pipeline file is a mapping with at least "
                "'notebooks:', a list of notebook paths.", Location(shown, line=1))
        self.lines = _lines(node)
        self.data = data
        self._check_keys()
        self.notebooks = self._notebooks()
        self.parameters = self._parameters()
        self.inputs = self._inputs()
        self.settings = self._settings()
        if self.diags.errors:
            raise NotebookError(self.diags.items)

    def at(self, *keys: Any) -> Location:
        """The line of a key or list item (the nearest enclosing one that has a line)."""
        while keys and keys not in self.lines:
            keys = keys[:-1]
        return Location(self.shown, line=self.lines.get(keys, 1))

    def _check_keys(self) -> None:
        for key in self.data:
            if key not in _KNOWN_KEYS:
                close = difflib.get_close_matches(str(key), _KNOWN_KEYS, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                self.diags.error("unknown-key", f"'{key}' is not a key of a pipeline file; "
                                 f"the keys are {', '.join(_OWN_KEYS)} and the pipeline "
                                 f"settings (image, schedule, ...).{hint}", self.at(key))

    def _notebooks(self) -> list[tuple[str, Location]]:
        raw = self.data.get("notebooks")
        if not isinstance(raw, list) or not raw:
            self.diags.error("bad-pipeline-file", "'notebooks:' should be a list of notebook "
                             "paths relative to this file's folder, in the order they run.",
                             self.at("notebooks"))
            return []
        found: list[tuple[str, Location]] = []
        for index, entry in enumerate(raw):
            where = self.at("notebooks", index)
            if isinstance(entry, dict) and set(entry) == {"path"}:
                entry = entry["path"]
            if not isinstance(entry, str) or not entry.strip():
                self.diags.error("bad-pipeline-file", f"notebooks: {entry!r} is not a notebook "
                                 "path.", where)
                continue
            rel = posixpath.normpath(entry.strip().replace("\\", "/"))
            if posixpath.isabs(rel) or rel == ".." or rel.startswith("../"):
                self.diags.error("outside-folder", f"notebook '{entry}' is outside the pipeline "
                                 "file's folder; list notebooks by paths inside it.", where)
                continue
            if not rel.endswith(".ipynb"):
                self.diags.error("bad-pipeline-file", f"notebooks: '{entry}' is not a .ipynb "
                                 "file.", where)
                continue
            if any(rel == seen for seen, _ in found):
                self.diags.error("duplicate-notebook", f"notebook '{entry}' is listed twice.",
                                 where)
                continue
            found.append((rel, where))
        return found

    def _parameters(self) -> dict[str, Any]:
        raw = self.data.get("parameters") or {}
        if not isinstance(raw, dict):
            self.diags.error("bad-parameter", "'parameters:' should map names to values "
                             "(numbers, strings, true/false, lists, mappings).",
                             self.at("parameters"))
            return {}
        for name, value in raw.items():
            if not isinstance(name, str) or not name.isidentifier():
                self.diags.error("bad-parameter", f"parameter name {name!r} is not a Python "
                                 "name.", self.at("parameters", name))
            elif not _is_json(value):
                self.diags.error("bad-parameter", f"parameter '{name}' should be a number, "
                                 "string, true/false, null, list or mapping.",
                                 self.at("parameters", name))
        return raw

    def _inputs(self) -> dict[str, dict[str, str]]:
        raw = self.data.get("inputs") or {}
        if not isinstance(raw, dict) or not all(
                isinstance(v, dict) and all(isinstance(p, str) for p in v.values())
                for v in raw.values()):
            self.diags.error("bad-inputs", "'inputs:' should map a step to its variables and "
                             "the step each comes from, such as 'train: {X: features}'.",
                             self.at("inputs"))
            return {}
        return raw

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        for key, value in self.data.items():
            if key == "tracking":
                value, key = _tracking_uri(value), "mlflow_uri"
            if key not in _SETTING_KEYS:
                continue
            types, wanted = KNOWN_SETTINGS[key]
            if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
                self.diags.error("bad-setting", f"'{key}' should be {wanted}, not {value!r}.",
                                 self.at(key if key in self.data else "tracking"))
                continue
            settings[key] = value
        return settings


class _Merger:
    """The notebooks, analysed in the file's order, into one Pipeline."""

    def __init__(self, spec: _Spec, folder: Path):
        self.spec = spec
        self.folder = folder
        self.diags: list[Diagnostic] = []
        self.parts: list[NotebookPart] = []
        self.steps: list[Step] = []
        self.local: dict[str, tuple[int, str]] = {}  # internal id -> (notebook, local name)
        self.defined: dict[str, set[str]] = {}  # internal id -> values the step defines
        self.mentions: dict[str, set[str]] = {}  # internal id -> paths it names (rebased)
        self.declared: list[list[Parameter]] = []  # each notebook's own parameters
        self.kernels: list[str] = []

    def build(self) -> Pipeline:
        from liminal_jupyter.notebook.parse import Provider

        spec = self.spec
        base = posixpath.dirname(spec.shown.replace("\\", "/"))
        inherited: dict[str, Provider] = {n: Provider("parameter") for n in spec.parameters}
        qualifiers = [_qualifier(rel) for rel, _ in spec.notebooks]
        for index, (rel, where) in enumerate(spec.notebooks):
            if not (self.folder / rel).resolve().is_relative_to(self.folder):
                raise NotebookError.single("outside-folder", f"notebook '{rel}' is outside the "
                                           "pipeline file's folder (a link leads out).", where)
            if not (self.folder / rel).is_file():
                raise NotebookError.single("missing-notebook", f"notebook '{rel}' does not "
                                           "exist beside the pipeline file.", where)
            shown = posixpath.join(base, rel)
            inherited = self._notebook(index, rel, shown, qualifiers[index], inherited)
        self._file_edges_across()
        self._name_steps(qualifiers)
        self._explicit_inputs()
        settings = dict(spec.settings)
        parameters = self._parameters()
        self._parts_parameters(parameters)
        self._outputs_and_keeps(settings)
        if len(set(self.kernels)) > 1:
            self.diags.append(Diagnostic(
                "warning", "kernels-differ", f"the notebooks name different kernels "
                f"({', '.join(dict.fromkeys(self.kernels))}); every step runs on the first, "
                f"{self.kernels[0]}.", Location(spec.shown)))
        pipeline = Pipeline(
            name=spec.data.get("name") or slug(self.folder.name).replace("_", "-") or "pipeline",
            notebook=spec.shown,
            steps=self.steps,
            description=str(spec.data.get("description") or ""),
            kernel=self.kernels[0] if self.kernels else "python3",
            parameters=parameters,
            settings=settings,
            diagnostics=self.diags,
            notebooks=self.parts,
        )
        pipeline.validate()
        return pipeline

    # -- one notebook -------------------------------------------------------------------
    def _notebook(self, index: int, rel: str, shown: str, qualifier: str,
                  inherited: dict[str, Any]) -> dict[str, Any]:
        """Analyse one notebook from what the earlier ones left; return what it leaves."""
        from liminal_jupyter.notebook.parse import Provider, _Builder

        builder = _Builder(read_notebook(self.folder / rel, shown), inherited)
        sub = builder.build(validate=False)
        local = {s.name: f"{qualifier}.{s.name}" for s in sub.steps}
        sub_folder = posixpath.dirname(rel)
        for step in sub.steps:
            self.local[local[step.name]] = (index, step.name)
            self.defined[local[step.name]] = builder.defined.get(step.name, set())
            self.mentions[local[step.name]] = {
                _rebased(sub_folder, m) for m in builder.mentions.get(step.name, set())}
            step.name = local[step.name]
            step.notebook = rel
            for inp in step.inputs:
                if inp.producer in local:  # (an earlier notebook's step has a dotted id)
                    inp.producer = local[inp.producer]
                if inp.kind == "file":
                    inp.name = _rebased(sub_folder, inp.name)
            step.files = [_rebased(sub_folder, f) for f in step.files]
            step.writes = [_rebased(sub_folder, f) for f in step.writes]
        # Diagnostics name steps by their internal id until the final names are known.
        self.diags += [replace(d, step=local.get(d.step, d.step)) if d.step else d
                       for d in sub.diagnostics]
        self.steps += sub.steps
        self.declared.append(sub.parameters)
        self.kernels.append(sub.kernel)
        self.parts.append(NotebookPart(rel, list(sub.parameter_cells), list(sub.prelude),
                                       list(sub.prelude_reads)))
        left: dict[str, Provider] = {}
        for name, provider in builder.providers.items():
            if provider.kind in ("step", "import"):
                left[name] = replace(provider, step=local.get(provider.step, provider.step))
            elif provider.kind == "parameter":
                left[name] = provider
        return left

    def _file_edges_across(self) -> None:
        """A path a step reads that a step of an earlier notebook writes (load.ipynb's
        `df.to_csv("raw.csv")`, then features.ipynb's `pd.read_csv("raw.csv")`) comes from
        that step, as within one notebook (parse.py `_file_edges`): a file edge, so the
        reader waits for it and engines whose steps run apart hand the file over."""
        writer: dict[str, tuple[int, str]] = {}  # path -> (notebook, its last writer)
        for step in self.steps:  # the file's order, then each notebook's own
            notebook = self.local[step.name][0]
            handed = {i.name for i in step.inputs if i.kind == "file"}
            across = sorted(m for m in self.mentions.get(step.name, set())
                            if m not in handed and writer.get(m, (notebook, ""))[0] != notebook)
            step.inputs += [StepInput(m, "file", writer[m][1]) for m in across]
            step.files = [f for f in step.files if f.rstrip("/") not in across]
            writer.update(dict.fromkeys(step.writes, (notebook, step.name)))

    # -- names --------------------------------------------------------------------------
    def _name_steps(self, qualifiers: list[str]) -> None:
        """Plain step names, qualified by notebook (`features.clean`) only where two
        notebooks use the same one; `after:` resolves within its notebook first."""
        counts: dict[str, int] = {}
        for _, name in self.local.values():
            counts[name] = counts.get(name, 0) + 1
        final = {sid: name if counts[name] == 1 else f"{qualifiers[nb]}.{name}"
                 for sid, (nb, name) in self.local.items()}
        by_local: dict[tuple[int, str], str] = {v: final[k] for k, v in self.local.items()}
        unique = {name: final[sid] for sid, (_, name) in self.local.items() if counts[name] == 1}
        for step in self.steps:
            notebook = self.local[step.name][0]
            step.name = final[step.name]
            for inp in step.inputs:
                if inp.producer in final:
                    inp.producer = final[inp.producer]
            step.after = [by_local.get((notebook, a)) or unique.get(a) or a for a in step.after]
        self.local = {final[k]: v for k, v in self.local.items()}
        self.defined = {final[k]: v for k, v in self.defined.items()}
        self.diags = [replace(d, step=final.get(d.step, d.step)) if d.step else d
                      for d in self.diags]

    def _find(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        matches = [s for s in self.steps if self.local[s.name][1] == name]
        return matches[0] if len(matches) == 1 else None

    def _explicit_inputs(self) -> None:
        """`inputs: {STEP: {VAR: PRODUCER}}`: VAR of STEP comes from PRODUCER, whatever the
        analysis inferred (and where it found no producer)."""
        spec = self.spec
        names = ", ".join(s.name for s in self.steps)
        for consumer_name, mapping in spec.inputs.items():
            consumer = self._find(str(consumer_name))
            if consumer is None:
                self.diags.append(Diagnostic(
                    "error", "unknown-step", f"inputs: '{consumer_name}' names no step; the "
                    f"steps are {names}.", spec.at("inputs", consumer_name)))
                continue
            for variable, producer_name in mapping.items():
                where = spec.at("inputs", consumer_name, variable)
                producer = self._find(producer_name)
                if producer is None:
                    self.diags.append(Diagnostic(
                        "error", "unknown-step", f"inputs: {consumer_name}.{variable} comes "
                        f"from '{producer_name}', which names no step; the steps are {names}.",
                        where))
                    continue
                if variable not in self.defined.get(producer.name, set()):
                    self.diags.append(Diagnostic(
                        "error", "unknown-input", f"inputs: step '{producer.name}' does not "
                        f"define '{variable}', so step '{consumer.name}' cannot read it from "
                        "there.", where))
                    continue
                consumer.inputs = [i for i in consumer.inputs if i.name != variable]
                consumer.inputs.append(StepInput(str(variable), "data", producer.name))
                self.diags = [d for d in self.diags if not (
                    d.code == "undefined-name" and d.step == consumer.name
                    and d.message.startswith(f"name '{variable}' "))]

    # -- parameters ---------------------------------------------------------------------
    def _parameters(self) -> list[Parameter]:
        """Every notebook's parameters, shared by all (first declaration wins), with the
        file's values as defaults; the file may add parameters no notebook declares."""
        found: dict[str, Parameter] = {}
        for (rel, _), declared in zip(self.spec.notebooks, self.declared, strict=True):
            for param in declared:
                if param.name not in found:
                    found[param.name] = replace(param)
                elif (found[param.name].default != param.default
                      and param.name not in self.spec.parameters):
                    self.diags.append(Diagnostic(
                        "warning", "parameter-conflict", f"parameter '{param.name}' has "
                        f"default {param.default!r} here but {found[param.name].default!r} in "
                        "an earlier notebook; every notebook gets the earlier one. Set it "
                        "under parameters: in the pipeline file.",
                        Location(posixpath.join(posixpath.dirname(self.spec.shown), rel),
                                 param.cell_index, param.cell_id, param.line)))
        for name, value in self.spec.parameters.items():
            line = self.spec.at("parameters", name).line
            if name in found:
                found[name] = replace(found[name], default=value)
            else:
                found[name] = Parameter(name, _PARAMETER_TYPES.get(type(value), "any"), value,
                                        line=line)
        return list(found.values())

    def _parts_parameters(self, parameters: list[Parameter]) -> None:
        """Each notebook's parameters cells, then one setting the parameters it does not
        declare and those the file sets: every parameter reaches every notebook, and the
        file's values win over a notebook's defaults (as papermill's injected values do)."""
        from liminal_jupyter.step.render import _literal

        for part, declared in zip(self.parts, self.declared, strict=True):
            own = {p.name for p in declared}
            lines = []
            for param in parameters:
                if param.name in own and param.name not in self.spec.parameters:
                    continue
                try:
                    lines.append(f"{param.name} = {_literal(param.default)}")
                except ValueError:  # a computed default: only its own notebook has it
                    continue
            if lines:
                source = "# set by the pipeline file\n" + "\n".join(lines)
                part.parameter_cells = [*part.parameter_cells,
                                        CellRef(-1, "liminal-pipeline-parameters", source)]

    # -- outputs and kept values over the whole DAG -------------------------------------
    def _outputs_and_keeps(self, settings: dict[str, Any]) -> None:
        consumed: dict[str, set[str]] = {s.name: set() for s in self.steps}
        for step in self.steps:
            for inp in step.data_inputs:
                if inp.producer in consumed:
                    consumed[inp.producer].add(inp.name)
            for model in step.models:
                consumed[step.name].add(model.variable)
        upstream = {name for s in self.steps for name in s.upstream}
        for step in self.steps:
            step.outputs = sorted(consumed[step.name])
            reads = {n.group() for m in step.metrics
                     for n in re.finditer(r"[A-Za-z_]\w*", m.expression)}
            keep_all = (step.options.keep or settings.get("keep")) == "all"
            step.keep = kept_names(self.defined.get(step.name, set()), step.outputs, reads,
                                   leaf=step.name not in upstream, keep_all=keep_all)


def _qualifier(rel: str) -> str:
    parts = rel.removesuffix(".ipynb").split("/")
    return ".".join(slug(p) or "notebook" for p in parts)


def _rebased(sub_folder: str, path: str) -> str:
    """A path relative to a notebook's folder, relative to the pipeline file's instead."""
    if not sub_folder:
        return path
    rebased = posixpath.join(sub_folder, path)
    return rebased + "/" if path.endswith("/") and not rebased.endswith("/") else rebased


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _lines(node: Any, path: tuple = ()) -> dict[tuple, int]:
    """1-based line of every mapping key and sequence item, by its path from the root."""
    import yaml

    found: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, key_node.value)
            found[key] = key_node.start_mark.line + 1
            found.update(_lines(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = (*path, index)
            found[key] = item.start_mark.line + 1
            found.update(_lines(item, key))
    return found
