/**
 * Pipeline files (`liminal.yml`, docs/pipelines.md) as the panel sees them: which
 * documents it follows as pipelines, which path runs act on, where a step's notebook is
 * under the server's root, and the colour each notebook gets in the DAG. Pure functions,
 * no JupyterLab imports, so they are unit-tested in node.
 */

import { IPipeline, IPipelineResponse } from './types';

const PIPELINE_FILE_NAMES = ['liminal.yml', 'liminal.yaml'];

/**
 * Colours of notebooks, by their position in the file's `notebooks`: distinct from each
 * other, darker than the phase colours (the node's border) and free of the run-state
 * greens, reds and blue, so a band never reads as a state or a phase. Past the last one
 * they repeat.
 */
export const NOTEBOOK_COLOURS = [
  '#1f3b73',
  '#8e44ad',
  '#0e7c86',
  '#c2185b',
  '#6d4c41',
  '#5f6b1f',
  '#37474f',
  '#c27c0e'
];

/** A .yml/.yaml path: what the server reads as a pipeline file. */
export function isYamlPath(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

/**
 * Whether the panel follows a YAML document as a pipeline: a file named liminal.yml (or
 * .yaml), or one with a top-level `notebooks:` key. Other YAML files (a CI config, a
 * conda environment) are left alone rather than shown as a broken pipeline.
 */
export function isPipelineFile(path: string, text: string | null): boolean {
  if (!isYamlPath(path)) {
    return false;
  }
  const name = path.split('/').pop() ?? '';
  if (PIPELINE_FILE_NAMES.includes(name.toLowerCase())) {
    return true;
  }
  return text !== null && /^notebooks\s*:/m.test(text);
}

/**
 * The path runs, compiles and submits act on: the pipeline file a notebook belongs to
 * (the server says which), else the document itself.
 */
export function runTarget(response: IPipelineResponse | null, path: string): string {
  return response?.pipeline_file || path;
}

/** A pipeline of several notebooks (a pipeline file's). */
export function isMultiNotebook(pipeline: IPipeline | null | undefined): boolean {
  return !!pipeline?.notebooks?.length;
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** `a/./b/../c` -> `a/c` (paths in the IR never leave the file's folder). */
function normalise(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts.join('/');
}

/**
 * The server-root path of a step's notebook: IR paths are relative to the pipeline
 * file's folder. '' (a one-notebook pipeline) gives `target` itself.
 */
export function notebookPath(target: string, notebook: string | undefined): string {
  if (!notebook) {
    return target;
  }
  const folder = dirname(target);
  return normalise(folder ? `${folder}/${notebook}` : notebook);
}

/** The IR's name of the notebook at server-root `path` (relative to the file's folder),
 * or null when the pipeline does not list it. */
export function notebookOf(
  pipeline: IPipeline | null | undefined,
  target: string,
  path: string
): string | null {
  for (const part of pipeline?.notebooks ?? []) {
    if (notebookPath(target, part.path) === normalise(path)) {
      return part.path;
    }
  }
  return null;
}

/** The notebooks of the pipeline in the file's order, each with its colour. */
export function notebookColours(
  pipeline: IPipeline | null | undefined
): Map<string, string> {
  const colours = new Map<string, string>();
  (pipeline?.notebooks ?? []).forEach((part, i) => {
    colours.set(part.path, NOTEBOOK_COLOURS[i % NOTEBOOK_COLOURS.length]);
  });
  return colours;
}

/** What the legend calls a notebook: its path without `.ipynb`. */
export function notebookLabel(notebook: string): string {
  return notebook.replace(/\.ipynb$/i, '');
}
