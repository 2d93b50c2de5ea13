/**
 * The one place the panel talks to the server extension: ServerConnection.makeRequest
 * sends Jupyter's token and XSRF cookie, as every handler requires.
 */

import { ServerConnection } from '@jupyterlab/services';

import {
  compileBody,
  compileUrl,
  pipelineUrl,
  runsUrl,
  runUrl,
  IStepSelection,
  startRunBody,
  startRunUrl,
  statusUrl,
  submitBody,
  submitUrl,
  attachmentFilename,
  Backend
} from './urls';
import {
  IPipelineResponse,
  IRun,
  IRunDetail,
  IServerStatus,
  ISettings,
  JSONValue
} from './types';
import { executedNotebookUrl } from './executed';
import { runReportUrl } from './runReport';

/** POST /liminal/submit's reply (engines/base.py, Submission.to_json). */
export interface ISubmitReply {
  run_id: string | null;
  remote_id: string;
  host: string;
  url: string | null;
  summary: string;
  notes: string[];
  message?: string;
}

/** A failed request, with the server's one-paragraph message when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly body: unknown = null
  ) {
    super(message);
  }
}

export async function send(
  url: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
): Promise<Response> {
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(
      `the Jupyter server is not reachable (${(error as Error).message})`,
      null
    );
  }
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    let message = text || response.statusText;
    try {
      body = JSON.parse(text);
      const parsed = body as { message?: unknown };
      if (typeof parsed.message === 'string') {
        message = parsed.message;
      }
    } catch {
      // not JSON: keep the text
    }
    if (response.status === 404 && !text.trim().startsWith('{')) {
      message = 'the liminal server extension is not enabled on this Jupyter server';
    }
    throw new ApiError(message, response.status, body);
  }
  return response;
}

export async function json<T>(
  url: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
): Promise<T> {
  const response = await send(url, init, settings);
  return (await response.json()) as T;
}

export function post(body: unknown): RequestInit {
  return {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

/** Typed calls of every route the panel uses (docs/rest-api.md). */
export class LiminalApi {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  private get base(): string {
    return this.serverSettings.baseUrl;
  }

  status(): Promise<IServerStatus> {
    return json(statusUrl(this.base), {}, this.serverSettings);
  }

  pipeline(path: string): Promise<IPipelineResponse> {
    return json(pipelineUrl(this.base, path), {}, this.serverSettings);
  }

  runs(path: string, limit = 20): Promise<{ runs: IRun[] }> {
    return json(runsUrl(this.base, path, limit), {}, this.serverSettings);
  }

  run(runId: string, path: string, trackingUri = ''): Promise<IRunDetail> {
    return json(runUrl(this.base, runId, path, trackingUri), {}, this.serverSettings);
  }

  /** A step's executed notebook (nbformat JSON), for the read-only viewer. */
  executedNotebook(
    runId: string,
    step: string,
    path: string
  ): Promise<{ [key: string]: unknown }> {
    return json(executedNotebookUrl(this.base, runId, step, path), {}, this.serverSettings);
  }

  /** A run's report page (HTML), for a sandboxed tab. */
  async runReport(runId: string, path: string): Promise<string> {
    const response = await send(runReportUrl(this.base, runId, path), {}, this.serverSettings);
    return response.text();
  }

  startRun(
    path: string,
    parameters: { [name: string]: JSONValue },
    settings: ISettings,
    options: { backend?: Backend; useCache?: boolean; steps?: IStepSelection }
  ): Promise<{ run_id: string; run: IRun }> {
    return json(
      startRunUrl(this.base),
      post(startRunBody(path, parameters, settings, options)),
      this.serverSettings
    );
  }

  cancelRun(runId: string, path: string): Promise<{ cancelled: boolean }> {
    return json(
      runUrl(this.base, runId, path),
      { method: 'DELETE' },
      this.serverSettings
    );
  }

  /** The compiled YAML and the file name the server suggests for it. */
  async compile(
    path: string,
    settings: ISettings,
    fallbackName: string
  ): Promise<{ filename: string; text: string }> {
    const response = await send(
      compileUrl(this.base),
      post(compileBody(path, settings)),
      this.serverSettings
    );
    return {
      filename: attachmentFilename(
        response.headers.get('Content-Disposition'),
        fallbackName
      ),
      text: await response.text()
    };
  }

  submit(
    path: string,
    engine: string,
    parameters: { [name: string]: JSONValue },
    settings: { [name: string]: string }
  ): Promise<ISubmitReply> {
    return json(
      submitUrl(this.base),
      post(submitBody(path, engine, parameters, settings)),
      this.serverSettings
    );
  }
}
