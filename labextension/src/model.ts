/**
 * The panel's state for the active notebook, separate from its React view: the pipeline
 * as the server parsed it, the parameter form, the runs and the selected run, kept fresh
 * by polling while a run is going. Every failure to reach the server becomes the quiet
 * status line; nothing here opens a dialog.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { DeployModel } from './deployModel';
import { ApiError, LiminalApi } from './request';
import { mergeFormTexts, readForm } from './params';
import { isYamlPath, notebookOf, runTarget } from './pipefile';
import { isRunActive } from './status';
import { runReportTitle } from './runReport';
import {
  DEFAULT_SETTINGS,
  IPipelineResponse,
  IRun,
  IRunDetail,
  IEngineInfo,
  IServerStatus,
  ISettings,
  JSONValue
} from './types';
import { Backend, IStepSelection } from './urls';
import {
  defaultSubmitEngine,
  fieldTexts,
  loadSubmitTexts,
  missingFields,
  saveSubmitTexts,
  submitEngines,
  submitSettings,
  SubmitTexts
} from './submitSettings';

/** How often the selected run is re-read while it runs, and the run list. */
export const RUN_POLL_MS = 1000;
export const LIST_POLL_MS = 4000;
const FINAL_REREAD_MS = 2000;

export type Busy = 'run' | 'compile' | 'submit' | 'cancel' | null;

export interface IActionResult {
  kind: 'info' | 'error';
  text: string;
  /** A link to show with the message (the KFP run page after a submit). */
  url?: string | null;
}

export class PanelModel {
  constructor(readonly api: LiminalApi) {
    this.deploy = new DeployModel(api.serverSettings);
  }

  /** The Deploy and Monitor actions on the selected run's models. */
  readonly deploy: DeployModel;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The document followed: a notebook, or a pipeline file (liminal.yml). */
  path: string | null = null;
  /**
   * What runs, compiles, submits and the runs list act on: the pipeline file the
   * notebook belongs to (GET /liminal/pipeline says which), else `path` itself; null
   * until the server said.
   */
  target: string | null = null;
  pipeline: IPipelineResponse | null = null;
  loading = false;
  /** Quiet one-line status: why the pipeline or runs could not be read (latest reads). */
  get statusLine(): string {
    return this._problems.pipeline || this._problems.runs || this._problems.run || '';
  }
  server: IServerStatus | null = null;
  settings: ISettings = { ...DEFAULT_SETTINGS };

  formTexts: { [name: string]: string } = {};
  backend: Backend = 'local';
  useCache = true;

  /** The engine Submit hands runs to (null: the server named none yet). */
  submitEngine: string | null = null;
  /** The Submit form's texts by engine; secrets only here, in memory. */
  submitTexts: SubmitTexts = loadSubmitTexts(sessionStore());

  runs: IRun[] = [];
  selectedRunId: string | null = null;
  runDetail: IRunDetail | null = null;
  busy: Busy = null;
  action: IActionResult | null = null;

  dispose(): void {
    this._disposed = true;
    this._stopPolling();
    this.deploy.dispose();
    Signal.clearData(this);
  }

  /** The engines Submit offers, with their host settings (GET /liminal/status). */
  get submitEngines(): IEngineInfo[] {
    return submitEngines(this.server?.engines ?? []);
  }

  /** The chosen submit engine, or the default one. */
  get submitTarget(): IEngineInfo | null {
    const engines = this.submitEngines;
    const name = this.submitEngine ?? defaultSubmitEngine(engines);
    return engines.find(e => e.name === name) ?? null;
  }

  /** The chosen engine's field texts (typed, else the panel's settings). */
  get submitFields(): { [name: string]: string } {
    const target = this.submitTarget;
    return target
      ? fieldTexts(target.name, target.submit_options ?? [], this.submitTexts, this.settings)
      : {};
  }

  /** The required host settings still empty, by label. */
  get submitMissing(): string[] {
    const target = this.submitTarget;
    return target ? missingFields(target.submit_options ?? [], this.submitFields) : [];
  }

  setSubmitEngine(name: string): void {
    this.submitEngine = name;
    this._emit();
  }

  setSubmitText(name: string, text: string): void {
    const target = this.submitTarget;
    if (!target) {
      return;
    }
    const mine = { ...(this.submitTexts[target.name] ?? {}), [name]: text };
    this.submitTexts = { ...this.submitTexts, [target.name]: mine };
    saveSubmitTexts(sessionStore(), this.submitTexts, this.server?.engines ?? []);
    this._emit();
  }

  setSettings(settings: ISettings): void {
    this.settings = settings;
    this._emit();
  }

  /**
   * Follows the active notebook or pipeline file (null: none). Reloads everything for a
   * new path, except when it belongs to the pipeline shown (another notebook of the same
   * pipeline file, or the file itself): then the runs and the form stay as they are.
   */
  async setNotebook(path: string | null): Promise<void> {
    if (path === this.path) {
      return;
    }
    if (path && this.target && this._sameTarget(path)) {
      this.path = path;
      this._emit();
      await this.refresh();
      return;
    }
    this.path = path;
    // A pipeline file is its own target; a notebook's is known once the server answers.
    this.target = path && isYamlPath(path) ? path : null;
    this.pipeline = null;
    this.formTexts = {};
    this.runs = [];
    this.selectedRunId = null;
    this.runDetail = null;
    this.action = null;
    this._problems = {};
    this._stopPolling();
    this._emit();
    if (path) {
      await Promise.all([this.refresh(), this.target ? this.refreshRuns() : null]);
    }
  }

  /** `path` is the pipeline file shown, or one of its notebooks. */
  private _sameTarget(path: string): boolean {
    const target = this.target as string;
    const pipeline = this.pipeline?.pipeline;
    return path === target || (isYamlPath(target) && notebookOf(pipeline, target, path) !== null);
  }

  /** Sets what runs act on; a different one reads its runs afresh. */
  private _setTarget(target: string): void {
    if (target === this.target) {
      return;
    }
    this.target = target;
    this.runs = [];
    this.selectedRunId = null;
    this.runDetail = null;
    this._problems.runs = '';
    this._problems.run = '';
    this._stopPolling();
    void this.refreshRuns();
  }

  /** Re-reads the pipeline (after a save). Calls during a read coalesce into one more. */
  async refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = this._readPipeline();
    try {
      await this._refreshing;
    } finally {
      this._refreshing = null;
    }
    if (this._refreshAgain) {
      this._refreshAgain = false;
      await this.refresh();
    }
  }

  private async _readPipeline(): Promise<void> {
    const path = this.path;
    if (!path) {
      return;
    }
    this.loading = true;
    this._emit();
    try {
      if (!this.server) {
        this.server = await this.api.status().catch(() => null);
      }
      const response = await this.api.pipeline(path);
      if (path !== this.path) {
        return;
      }
      const previous = this.pipeline?.pipeline
        ? { params: this.pipeline.pipeline.parameters, texts: this.formTexts }
        : null;
      this.pipeline = response;
      this.formTexts = mergeFormTexts(previous, response.pipeline?.parameters ?? []);
      this._problems.pipeline = '';
      this._setTarget(runTarget(response, path));
    } catch (error) {
      if (path === this.path) {
        this._problems.pipeline = `Pipeline not read: ${describe(error)}`;
        if (!this.target) {
          this._setTarget(path);
        }
      }
    } finally {
      this.loading = false;
      this._emit();
    }
  }

  setFormText(name: string, text: string): void {
    this.formTexts = { ...this.formTexts, [name]: text };
    this._emit();
  }

  resetForm(): void {
    this.formTexts = mergeFormTexts(null, this.parameters);
    this._emit();
  }

  setBackend(backend: Backend): void {
    this.backend = backend;
    this._emit();
  }

  setUseCache(useCache: boolean): void {
    this.useCache = useCache;
    this._emit();
  }

  get parameters() {
    return this.pipeline?.pipeline?.parameters ?? [];
  }

  get form() {
    return readForm(this.parameters, this.formTexts);
  }

  async refreshRuns(): Promise<void> {
    const path = this.target;
    if (!path) {
      return;
    }
    try {
      const { runs } = await this.api.runs(path);
      if (path !== this.target) {
        return;
      }
      this.runs = runs;
      this._problems.runs = '';
      if (this.selectedRunId === null && runs.length) {
        this.selectedRunId = runs[0].run_id;
      }
    } catch (error) {
      if (path === this.target) {
        this._problems.runs = `Runs not read: ${describe(error)}`;
      }
    }
    this._emit();
    if (this.selectedRunId && !this.runDetail) {
      await this.refreshRun();
    }
    this._schedulePolling();
  }

  async selectRun(runId: string | null): Promise<void> {
    this._stopPolling();
    this.selectedRunId = runId;
    this.runDetail = null;
    this._emit();
    await this.refreshRun();
    this._schedulePolling();
  }

  async refreshRun(): Promise<void> {
    const path = this.target;
    const runId = this.selectedRunId;
    if (!path || !runId) {
      return;
    }
    try {
      const detail = await this.api.run(runId, path, this.settings.mlflowTrackingUri);
      if (runId !== this.selectedRunId || path !== this.target) {
        return;
      }
      const wasActive = this.runDetail && isRunActive(this.runDetail.run.status);
      this.runDetail = detail;
      this._problems.run = '';
      // Keep the list's copy of this run in step with the detail.
      this.runs = this.runs.map(r => (r.run_id === runId ? detail.run : r));
      if (wasActive && !isRunActive(detail.run.status)) {
        // MLflow's run id is recorded a moment after the run ends: read once more.
        window.setTimeout(() => void this.refreshRun(), FINAL_REREAD_MS);
        // The run detail shows the outcome; "started" would be stale now.
        this.action = null;
      }
    } catch (error) {
      if (path === this.target) {
        this._problems.run = `Run ${runId} not read: ${describe(error)}`;
      }
    }
    this._emit();
  }

  /** Run locally (or with kfp.local) with the form's parameters, then follow the run;
   * `steps`: only part of the pipeline (local runs: `liminal-nb run --from/--to`). */
  async startRun(steps?: IStepSelection): Promise<void> {
    const path = this.target;
    const form = this.form;
    if (!path || this.busy) {
      return;
    }
    if (!form.valid) {
      this.action = { kind: 'error', text: 'Fix the parameters marked in red first.' };
      this._emit();
      return;
    }
    await this._start(path, form.overrides, this.backend, steps);
  }

  /**
   * Starts a run with the parameters and on the engine of an earlier run (its recorded
   * parameters are the values that run set, as the form's overrides are), whatever the
   * form holds now; on the selected backend when the run's engine no longer runs here.
   */
  async rerun(run: IRun): Promise<void> {
    const path = this.target;
    if (!path || this.busy) {
      return;
    }
    const backends = this.server?.backends ?? ['local'];
    const backend = backends.includes(run.backend) ? run.backend : this.backend;
    await this._start(path, { ...(run.parameters ?? {}) }, backend);
  }

  private async _start(
    path: string,
    overrides: { [name: string]: JSONValue },
    backend: string,
    steps?: IStepSelection
  ): Promise<void> {
    this.busy = 'run';
    this.action = { kind: 'info', text: 'Starting a run…' };
    this._emit();
    try {
      const { run_id, run } = await this.api.startRun(
        path,
        overrides,
        this.settings,
        { backend, useCache: this.useCache, steps }
      );
      this.runs = [run, ...this.runs.filter(r => r.run_id !== run_id)];
      this.action = { kind: 'info', text: `Run ${run_id} started.` };
      this.busy = null;
      await this.selectRun(run_id);
    } catch (error) {
      this.action = { kind: 'error', text: `Run not started: ${describe(error)}` };
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  async cancelRun(): Promise<void> {
    const path = this.target;
    const runId = this.selectedRunId;
    if (!path || !runId || this.busy) {
      return;
    }
    this.busy = 'cancel';
    this._emit();
    try {
      await this.api.cancelRun(runId, path);
      this.action = { kind: 'info', text: `Cancelling run ${runId}…` };
    } catch (error) {
      this.action = { kind: 'error', text: `Not cancelled: ${describe(error)}` };
    } finally {
      this.busy = null;
      this._emit();
    }
    await this.refreshRun();
  }

  /** The selected run's report page, for the view to show in a sandboxed tab. */
  async runReport(): Promise<{ title: string; html: string } | null> {
    const path = this.target;
    const run = this.runDetail?.run;
    if (!path || !run) {
      return null;
    }
    this.action = { kind: 'info', text: `Writing the report of run ${run.run_id}…` };
    this._emit();
    try {
      const html = await this.api.runReport(run.run_id, path);
      this.action = null;
      return { title: runReportTitle(run), html };
    } catch (error) {
      this.action = { kind: 'error', text: `No report: ${describe(error)}` };
      return null;
    } finally {
      this._emit();
    }
  }

  /** Compiles to KFP YAML; returns the file for the view to download. */
  async compile(): Promise<{ filename: string; text: string } | null> {
    const path = this.target;
    if (!path || this.busy) {
      return null;
    }
    this.busy = 'compile';
    this.action = { kind: 'info', text: 'Compiling…' };
    this._emit();
    const name = this.pipeline?.pipeline?.name ?? 'pipeline';
    try {
      const file = await this.api.compile(path, this.settings, `${name}.pipeline.yaml`);
      this.action = { kind: 'info', text: `Compiled: ${file.filename}` };
      return file;
    } catch (error) {
      this.action = { kind: 'error', text: `Not compiled: ${describe(error)}` };
      return null;
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  /** Hands the run to the chosen engine's host; the submitted run is selected and
   * followed like a local one (the server asks the host: server/remote_runs.py). */
  async submit(): Promise<void> {
    const path = this.target;
    const form = this.form;
    const target = this.submitTarget;
    if (!path || this.busy || !target || this.submitMissing.length) {
      return;
    }
    if (!form.valid) {
      this.action = { kind: 'error', text: 'Fix the parameters marked in red first.' };
      this._emit();
      return;
    }
    const settings = submitSettings(target.submit_options ?? [], this.submitFields);
    this.busy = 'submit';
    this.action = {
      kind: 'info',
      text: `Submitting to ${target.name} at ${settings.host ?? 'its host'}…`
    };
    this._emit();
    try {
      const result = await this.api.submit(path, target.name, form.overrides, settings);
      this.action = {
        kind: 'info',
        text: `Submitted: ${result.summary || result.remote_id}${
          result.message ? ` (${result.message})` : ''
        }`,
        url: result.url
      };
      await this.refreshRuns();
      if (result.run_id) {
        await this.selectRun(result.run_id);
      }
    } catch (error) {
      this.action = { kind: 'error', text: `Not submitted: ${describe(error)}` };
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  /**
   * Polls the selected run every RUN_POLL_MS while it runs, and the run list every
   * LIST_POLL_MS while any run of the notebook runs; each timer is armed at most once.
   */
  private _schedulePolling(): void {
    if (this._disposed || !this.target) {
      return;
    }
    // A finished run whose runner is still recording its models is read again too.
    const selectedActive =
      !!this.runDetail &&
      (isRunActive(this.runDetail.run.status) || !!this.runDetail.models_pending);
    const anyActive = selectedActive || this.runs.some(r => isRunActive(r.status));
    if (selectedActive && this._runTimer === null) {
      this._runTimer = window.setTimeout(async () => {
        this._runTimer = null;
        await this.refreshRun();
        this._schedulePolling();
      }, RUN_POLL_MS);
    }
    if (anyActive && this._listTimer === null) {
      this._listTimer = window.setTimeout(async () => {
        this._listTimer = null;
        await this.refreshRuns();
      }, LIST_POLL_MS);
    }
  }

  private _stopPolling(): void {
    if (this._runTimer !== null) {
      window.clearTimeout(this._runTimer);
      this._runTimer = null;
    }
    if (this._listTimer !== null) {
      window.clearTimeout(this._listTimer);
      this._listTimer = null;
    }
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _problems: { pipeline?: string; runs?: string; run?: string } = {};
  private _disposed = false;
  private _refreshing: Promise<void> | null = null;
  private _refreshAgain = false;
  private _runTimer: number | null = null;
  private _listTimer: number | null = null;
}

/** The browser session's storage, when there is one (not in jest without a DOM). */
function sessionStore(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.sessionStorage : null;
  } catch {
    return null;
  }
}

/** One readable line for any failure. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
