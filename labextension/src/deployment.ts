/**
 * The Deploy and Monitor actions' pure logic: the REST shapes of /liminal/models/
 * (docs/rest-api.md), the URLs and bodies the panel sends, and what it shows of a result.
 * Free of JupyterLab imports so it is unit-tested with jest.
 */

import { apiUrl } from './urls';

/** A model version a run registered (GET /liminal/runs/ID: `models`). */
export interface IRegisteredModel {
  name: string;
  version: string;
  uri: string;
  step: string;
  variable: string;
  /** Aliases this run set (`champion` when validation passed). */
  aliases: string[];
  /** "passed", or why the alias was not set; null when not decided. */
  validation: string | null;
  tracking_uri: string | null;
}

/** A model server this Jupyter server started (POST serve, GET served). */
export interface IServedModel {
  id: string;
  name: string | null;
  version: string | null;
  uri: string;
  tracking_uri: string;
  port: number;
  url: string;
  invocations_url: string;
  pid: number | null;
  started: number;
  /** GET served only: whether it answered /ping just now. */
  answers?: boolean;
}

export interface IFeatureDrift {
  feature: string;
  kind: string;
  /** null: the column is missing from the new data. */
  psi: number | null;
  missing: boolean;
}

/** POST /liminal/models/monitor */
export interface IMonitorResult {
  model: string;
  name: string;
  version: string | null;
  threshold: number;
  rows: number;
  summary: string;
  drifted: string[];
  features: IFeatureDrift[];
  tracking_run_id: string | null;
  report: string;
  report_url: string;
}

/** The files Monitor accepts as new data. */
export const DATA_SUFFIXES = ['.csv', '.json', '.jsonl', '.parquet'];

export function modelKey(model: { name: string | null; version: string | null }): string {
  return `${model.name ?? ''}@${model.version ?? ''}`;
}

export function serveUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['models', 'serve']);
}

export function servedUrl(baseUrl: string, id?: string): string {
  return apiUrl(baseUrl, id === undefined ? ['models', 'served'] : ['models', 'served', id]);
}

export function monitorUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['models', 'monitor']);
}

export function reportUrl(baseUrl: string, path: string): string {
  return apiUrl(baseUrl, ['models', 'report'], { path });
}

/** The contents API listing of a folder ('' is the root). */
export function contentsUrl(baseUrl: string, dir: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const path = dir
    .split('/')
    .filter(part => part)
    .map(encodeURIComponent)
    .join('/');
  return `${base}api/contents/${path}?content=1`;
}

/**
 * The port field: empty means "a free port"; otherwise a whole number from 1024 to 65535
 * (the server refuses others). `error` is the quiet line shown beside the field.
 */
export function parsePort(text: string): { port: number | null; error: string | null } {
  const trimmed = text.trim();
  if (!trimmed) {
    return { port: null, error: null };
  }
  if (!/^\d+$/.test(trimmed)) {
    return { port: null, error: 'The port is a whole number, e.g. 5001 (or empty).' };
  }
  const port = Number(trimmed);
  if (port < 1024 || port > 65535) {
    return { port: null, error: 'The port must be from 1024 to 65535 (or empty).' };
  }
  return { port, error: null };
}

export interface IModelTarget {
  name: string;
  version: string;
  tracking_uri: string | null;
  path: string | null;
}

/**
 * Which model, and where it is registered: the tracking store the run recorded, else
 * the panel's MLflow setting, else (null) the server's choice for the notebook.
 */
export function modelTarget(
  model: IRegisteredModel,
  notebookPath: string | null,
  settingUri: string
): IModelTarget {
  return {
    name: model.name,
    version: model.version,
    tracking_uri: model.tracking_uri || settingUri.trim() || null,
    path: notebookPath
  };
}

export function serveBody(target: IModelTarget, port: number | null) {
  return { ...target, port };
}

export function monitorBody(target: IModelTarget, data: string) {
  return { ...target, data: data.trim() };
}

/** The served model of this name and version, if this server serves it. */
export function servedFor(
  served: IServedModel[],
  model: { name: string; version: string }
): IServedModel | null {
  return served.find(s => s.name === model.name && s.version === model.version) ?? null;
}

/** The notebook's folder ('' at the root), where Monitor looks for data files first. */
export function folderOf(path: string | null): string {
  if (!path) {
    return '';
  }
  const cut = path.lastIndexOf('/');
  return cut < 0 ? '' : path.slice(0, cut);
}

/** Data files among a contents API listing's entries, as root-relative paths, sorted. */
export function dataFiles(entries: { path: string; type: string }[]): string[] {
  return entries
    .filter(e => e.type === 'file' && DATA_SUFFIXES.some(s => e.path.toLowerCase().endsWith(s)))
    .map(e => e.path)
    .sort();
}

export interface IDriftView {
  /** One line: the verdict. */
  headline: string;
  /** The features over the threshold, most drifted first: name and PSI text. */
  drifted: { feature: string; psi: string }[];
}

/** What the panel shows of a drift check: a verdict line and the drifted features. */
export function driftView(result: IMonitorResult): IDriftView {
  const over = result.features.filter(f => result.drifted.includes(f.feature));
  const drifted = over.map(f => ({
    feature: f.feature,
    psi: f.psi === null ? 'missing' : f.psi.toFixed(3)
  }));
  const largest = Math.max(0, ...result.features.map(f => f.psi ?? 0));
  const headline = drifted.length
    ? `Drift in ${drifted.length} of ${result.features.length} features ` +
      `(threshold ${result.threshold}, ${result.rows} rows)`
    : `No drift: largest PSI ${largest.toFixed(3)} ≤ ${result.threshold} ` +
      `over ${result.rows} rows`;
  return { headline, drifted };
}

/** The badge of a registered version: its alias, or why it got none. */
export function validationLabel(model: IRegisteredModel): { text: string; title: string } {
  if (model.aliases.length) {
    return { text: model.aliases.join(', '), title: 'Validation passed: alias set by this run' };
  }
  if (model.validation && model.validation !== 'passed') {
    return { text: 'not promoted', title: model.validation };
  }
  return { text: '', title: '' };
}
