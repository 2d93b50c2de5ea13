/**
 * The state of the Deploy and Monitor actions on a run's models, apart from the view:
 * what this Jupyter server serves, and per model version the port and data fields, the
 * action in progress, its outcome and the last drift check. Every failure becomes that
 * model's quiet message line; nothing here opens a dialog.
 */

import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  contentsUrl,
  dataFiles,
  folderOf,
  IMonitorResult,
  IRegisteredModel,
  IServedModel,
  modelKey,
  modelTarget,
  monitorBody,
  monitorUrl,
  parsePort,
  reportUrl,
  serveBody,
  servedUrl,
  serveUrl
} from './deployment';
import { ApiError, json, post, send } from './request';

export type ModelBusy = 'deploy' | 'stop' | 'monitor' | null;

export interface IModelState {
  port: string;
  data: string;
  busy: ModelBusy;
  message: { kind: 'info' | 'error'; text: string } | null;
  drift: IMonitorResult | null;
}

const EMPTY: IModelState = { port: '', data: '', busy: null, message: null, drift: null };

export class DeployModel {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** What this server serves (GET /liminal/models/served). */
  served: IServedModel[] = [];
  /** Data files in the notebook's folder, offered to Monitor. */
  dataFiles: string[] = [];

  state(model: IRegisteredModel): IModelState {
    return this._states.get(modelKey(model)) ?? EMPTY;
  }

  setPort(model: IRegisteredModel, port: string): void {
    this._update(model, { port });
  }

  setData(model: IRegisteredModel, data: string): void {
    this._update(model, { data });
  }

  /** Re-reads the served models and the data files next to the notebook. */
  async refresh(notebookPath: string | null): Promise<void> {
    try {
      const { served } = await json<{ served: IServedModel[] }>(
        servedUrl(this._base),
        {},
        this.serverSettings
      );
      this.served = served;
    } catch {
      // The Deploy action still works; its own line will say what is wrong.
    }
    try {
      const listing = await json<{ content: { path: string; type: string }[] }>(
        contentsUrl(this._base, folderOf(notebookPath)),
        {},
        this.serverSettings
      );
      this.dataFiles = dataFiles(listing.content ?? []);
    } catch {
      this.dataFiles = [];
    }
    this._emit();
  }

  /** Serves the model version (MLflow's scoring server, started by the server). */
  async deploy(
    model: IRegisteredModel,
    notebookPath: string | null,
    settingUri: string
  ): Promise<void> {
    const state = this.state(model);
    const { port, error } = parsePort(state.port);
    if (error) {
      this._update(model, { message: { kind: 'error', text: error } });
      return;
    }
    if (state.busy) {
      return;
    }
    this._update(model, {
      busy: 'deploy',
      message: { kind: 'info', text: 'Starting the model server (this can take a minute)…' }
    });
    try {
      const target = modelTarget(model, notebookPath, settingUri);
      const served = await json<IServedModel>(
        serveUrl(this._base),
        post(serveBody(target, port)),
        this.serverSettings
      );
      this.served = [...this.served.filter(s => s.id !== served.id), served];
      this._update(model, { busy: null, message: null });
    } catch (err) {
      this._update(model, { busy: null, message: failure('Not deployed', err) });
    }
  }

  /** Stops a served model (its whole process group, on the server). */
  async stop(model: IRegisteredModel, served: IServedModel): Promise<void> {
    this._update(model, { busy: 'stop', message: null });
    try {
      await send(servedUrl(this._base, served.id), { method: 'DELETE' }, this.serverSettings);
      this.served = this.served.filter(s => s.id !== served.id);
      this._update(model, { busy: null, message: { kind: 'info', text: 'Stopped.' } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this.served = this.served.filter(s => s.id !== served.id); // already gone
      }
      this._update(model, { busy: null, message: failure('Not stopped', err) });
    }
  }

  /**
   * Checks the data file for drift from the model's training data; returns the report
   * page (title and HTML) for the view to open, or null when the check failed.
   */
  async monitor(
    model: IRegisteredModel,
    notebookPath: string | null,
    settingUri: string
  ): Promise<{ title: string; html: string } | null> {
    const state = this.state(model);
    if (state.busy) {
      return null;
    }
    if (!state.data.trim()) {
      this._update(model, {
        message: { kind: 'error', text: 'Choose a data file (CSV, JSON or Parquet) first.' }
      });
      return null;
    }
    this._update(model, {
      busy: 'monitor',
      message: { kind: 'info', text: `Checking ${state.data.trim()} for drift…` }
    });
    try {
      const target = modelTarget(model, notebookPath, settingUri);
      const result = await json<IMonitorResult>(
        monitorUrl(this._base),
        post(monitorBody(target, state.data)),
        this.serverSettings
      );
      this._update(model, { busy: null, message: null, drift: result });
      return await this.report(result);
    } catch (err) {
      this._update(model, { busy: null, message: failure('Not checked', err) });
      return null;
    }
  }

  /** The drift report's HTML, to show in a sandboxed frame. */
  async report(result: IMonitorResult): Promise<{ title: string; html: string }> {
    const response = await send(
      reportUrl(this._base, result.report),
      {},
      this.serverSettings
    );
    const version = result.version ? ` v${result.version}` : '';
    return { title: `Drift: ${result.name}${version}`, html: await response.text() };
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private get _base(): string {
    return this.serverSettings.baseUrl;
  }

  private _update(model: IRegisteredModel, change: Partial<IModelState>): void {
    this._states.set(modelKey(model), { ...this.state(model), ...change });
    this._emit();
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _states = new Map<string, IModelState>();
}

function failure(what: string, error: unknown): { kind: 'error'; text: string } {
  const text = error instanceof Error ? error.message : String(error);
  return { kind: 'error', text: `${what}: ${text}` };
}
