/**
 * Request building for the server extension's REST API (docs/rest-api.md), kept free of
 * JupyterLab imports so the exact URLs and bodies the panel sends are unit-tested.
 */

import { ISettings, JSONValue } from './types';

/** Every route of the server extension lives under `{baseUrl}liminal/`. */
export const API_NAMESPACE = 'liminal';

export type Query = { [key: string]: string | number | null | undefined };

/** `?a=1&b=x%20y`, skipping null/undefined values; '' when nothing is left. */
export function queryString(query: Query): string {
  const parts = Object.keys(query)
    .filter(key => query[key] !== null && query[key] !== undefined)
    .map(
      key =>
        `${encodeURIComponent(key)}=${encodeURIComponent(String(query[key]))}`
    );
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * The URL of one route: baseUrl (which ends with '/', as JupyterLab's server settings
 * give it), the namespace, the route's segments each percent-encoded, then the query.
 */
export function apiUrl(
  baseUrl: string,
  segments: string[],
  query: Query = {}
): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const path = [API_NAMESPACE, ...segments.map(s => encodeURIComponent(s))];
  return `${base}${path.join('/')}${queryString(query)}`;
}

export function pipelineUrl(baseUrl: string, path: string): string {
  return apiUrl(baseUrl, ['pipeline'], { path });
}

export function runsUrl(baseUrl: string, path: string, limit?: number): string {
  return apiUrl(baseUrl, ['runs'], { path, limit });
}

export function startRunUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['runs']);
}

/**
 * One run. `trackingUri` (the panel's MLflow setting) lets the server build the MLflow
 * link the way the runner picked the tracking server; empty means the server's default.
 */
export function runUrl(
  baseUrl: string,
  runId: string,
  path: string,
  trackingUri = ''
): string {
  return apiUrl(baseUrl, ['runs', runId], {
    path,
    tracking_uri: trackingUri.trim() || null
  });
}

export function compileUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['compile']);
}

export function submitUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['submit']);
}

export function statusUrl(baseUrl: string): string {
  return apiUrl(baseUrl, ['status']);
}

/** An engine that runs (the server's registry lists them: IServerStatus.backends). */
export type Backend = string;

export interface IStartRunBody {
  path: string;
  backend: Backend;
  parameters: { [name: string]: JSONValue };
  use_cache: boolean;
  jobs: number | null;
  tracking_uri: string | null;
  /** A partial run: the step and what depends on it (from), or what it depends on (to). */
  steps?: IStepSelection;
}

export interface IStepSelection {
  from?: string;
  to?: string;
  only?: string[];
}

/** POST /liminal/runs: settings fill `jobs` and `tracking_uri` (empty/0 = server default). */
export function startRunBody(
  path: string,
  parameters: { [name: string]: JSONValue },
  settings: ISettings,
  options: { backend?: Backend; useCache?: boolean; steps?: IStepSelection } = {}
): IStartRunBody {
  const body: IStartRunBody = {
    path,
    backend: options.backend ?? 'local',
    parameters,
    use_cache: options.useCache ?? true,
    jobs: settings.maxParallelSteps > 0 ? settings.maxParallelSteps : null,
    tracking_uri: settings.mlflowTrackingUri.trim() || null
  };
  if (options.steps) {
    body.steps = options.steps;
  }
  return body;
}

export interface ICompileBody {
  path: string;
  target: 'kfp';
  image: string | null;
}

export function compileBody(path: string, settings: ISettings): ICompileBody {
  return { path, target: 'kfp', image: settings.defaultImage.trim() || null };
}

export interface ISubmitBody {
  path: string;
  /** An engine that submits (KFP, Airflow): GET /liminal/status lists them. */
  engine: string;
  parameters: { [name: string]: JSONValue };
  /** Its host settings by `submit_options()` name (submitSettings.ts). */
  settings: { [name: string]: string };
}

/** POST /liminal/submit */
export function submitBody(
  path: string,
  engine: string,
  parameters: { [name: string]: JSONValue },
  settings: { [name: string]: string }
): ISubmitBody {
  return { path, engine, parameters, settings };
}

/**
 * The file name of a download from its Content-Disposition header
 * (`attachment; filename="iris.pipeline.yaml"`), else the fallback.
 */
export function attachmentFilename(
  header: string | null,
  fallback: string
): string {
  if (!header) {
    return fallback;
  }
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(header);
  if (plain) {
    const name = (plain[1] ?? plain[2] ?? '').trim();
    // Never let a header choose a directory: keep the last path component.
    const base = name.split(/[\\/]/).pop() ?? '';
    return base || fallback;
  }
  return fallback;
}
