/**
 * Opening an executed step notebook: the decisions and the data shaping behind the
 * read-only viewer, kept free of JupyterLab imports so they are unit-tested in node.
 *
 * Executed notebooks live in the hidden `.liminal/` folder. With the server's
 * `ContentsManager.allow_hidden` the real file opens in a notebook tab (the user may
 * re-run it); without it the contents API cannot serve it, so the panel fetches it from
 * the server extension (GET /liminal/runs/ID/steps/STEP/notebook) and shows it read-only,
 * rather than asking the user to loosen their server's settings.
 */

import { IServerStatus, IStepRun, JSONValue } from './types';
import { apiUrl } from './urls';

/** The route that serves one step's executed notebook (docs/rest-api.md). */
export function executedNotebookUrl(
  baseUrl: string,
  runId: string,
  step: string,
  path: string
): string {
  return apiUrl(baseUrl, ['runs', runId, 'steps', step, 'notebook'], { path });
}

/**
 * How to open a step's executed notebook: the real file when the server shows hidden
 * files, else the viewer; null when the step has none (yet). An unknown server status
 * (not read) takes the viewer, which works whatever the setting.
 */
export function howToOpen(
  server: IServerStatus | null,
  step: Pick<IStepRun, 'executed_notebook_path'>
): 'file' | 'viewer' | null {
  if (!step.executed_notebook_path) {
    return null;
  }
  return server?.allow_hidden === true ? 'file' : 'viewer';
}

/** The viewer tab's title: the step, then the run it belongs to. */
export function viewerTitle(step: string, runId: string): string {
  return `${step} · ${runId}`;
}

/** One widget id per (notebook, run, step): opening it again activates the open tab. */
export function viewerId(path: string, runId: string, step: string): string {
  const key = `${path}\u0000${runId}\u0000${step}`;
  let hash = 5381;
  for (let i = 0; i < key.length; i++) {
    hash = ((hash * 33) ^ key.charCodeAt(i)) >>> 0;
  }
  const safe = `${runId}-${step}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return `liminal-executed-${safe}-${hash.toString(36)}`;
}

/** An nbformat output, as the notebook file holds it (only what we read is typed). */
export interface INotebookOutput {
  output_type: string;
  [key: string]: unknown;
}

/** A cell as the viewer draws it. */
export interface ICellView {
  kind: 'code' | 'markdown' | 'raw';
  source: string;
  /** `[3]:` for a code cell that ran, `[ ]:` for one that did not; '' otherwise. */
  prompt: string;
  outputs: INotebookOutput[];
  /** Papermill's per-cell status, when it recorded one ('failed' marks the error). */
  status: string | null;
}

/** What the viewer shows of a notebook: its language and its cells. */
export interface INotebookView {
  language: string;
  cells: ICellView[];
}

/** nbformat's multiline strings: a string or a list of lines. */
export function joinSource(source: unknown): string {
  if (Array.isArray(source)) {
    return source.map(part => String(part)).join('');
  }
  return typeof source === 'string' ? source : '';
}

/**
 * The notebook JSON as the viewer's cells. Tolerant: an unknown cell type shows as raw
 * text, a malformed output list as none, so a damaged file still shows what it can.
 * Papermill's injected-parameters cell shows like any code cell: it is what ran.
 */
export function notebookView(notebook: { [key: string]: JSONValue | unknown }): INotebookView {
  const metadata = (notebook.metadata ?? {}) as {
    language_info?: { name?: string };
    kernelspec?: { language?: string };
  };
  const language =
    metadata.language_info?.name || metadata.kernelspec?.language || 'python';
  const cells = Array.isArray(notebook.cells) ? notebook.cells : [];
  return {
    language,
    cells: cells.map(raw => cellView((raw ?? {}) as { [key: string]: unknown }))
  };
}

function cellView(cell: { [key: string]: unknown }): ICellView {
  const type = cell.cell_type;
  const kind = type === 'code' || type === 'markdown' ? type : 'raw';
  const source = joinSource(cell.source);
  if (kind !== 'code') {
    return { kind, source, prompt: '', outputs: [], status: null };
  }
  const count = cell.execution_count;
  const outputs = Array.isArray(cell.outputs)
    ? (cell.outputs.filter(
        o => o && typeof o === 'object' && typeof o.output_type === 'string'
      ) as INotebookOutput[])
    : [];
  const papermill = ((cell.metadata ?? {}) as { papermill?: { status?: unknown } })
    .papermill;
  return {
    kind,
    source,
    prompt: `[${typeof count === 'number' ? count : ' '}]:`,
    outputs,
    status: typeof papermill?.status === 'string' ? papermill.status : null
  };
}
