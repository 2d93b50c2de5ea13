/**
 * The side panel's view: a React tree over PanelModel, re-rendered on its `changed`
 * signal. What the view cannot do itself (jump to a cell, open a file, download) it asks
 * of the plugin through IPanelActions, so it stays free of notebook plumbing.
 */

import * as React from 'react';

import { ReactWidget } from '@jupyterlab/ui-components';

import { DagView } from './dag';
import { IReportOpener, RunModels } from './deploy';
import { howToOpen } from './executed';
import { canDebug, canLoadInputs } from './debug';
import {
  dagStates,
  elementsAfterTheirStep,
  elementsOf,
  errorText,
  fanOutText,
  IFanOut
} from './runstate';
import { isMultiNotebook, notebookLabel } from './pipefile';
import { canReport } from './runReport';
import { PanelModel } from './model';
import { fieldSpec } from './params';
import { elapsed, formatDuration, formatMetric, statusStyle } from './status';
import { SubmitSection } from './submit';
import {
  IDiagnostic,
  IEngineCapabilities,
  IEngineInfo,
  IParameter,
  IPipeline,
  IRun,
  IStepRun
} from './types';

export interface IPanelActions extends IReportOpener {
  /** Activate the notebook cell a diagnostic or a step points at; `step`: the step it
   * belongs to, whose notebook is opened first when it is another one (pipeline files). */
  jumpToCell(
    target: { cell_index?: number | null; cell_id?: string | null },
    step?: string | null
  ): void;
  jumpToStep(step: string): void;
  /** Open the pipeline's DAG in a main-area tab (pipelineTab.tsx). */
  openPipeline(): void;
  /** Open a file (an executed step notebook) in JupyterLab. */
  openPath(path: string): void;
  /** Load the inputs the step read in its run into the notebook's kernel (debug.ts). */
  loadInputs(step: IStepRun): Promise<boolean>;
  /** Load a failed step's inputs, then select the cell that failed. */
  debug(step: IStepRun): Promise<void>;
  /** Open a step's executed notebook: the file, or a read-only viewer (executed.ts). */
  openExecuted(step: IStepRun): void;
  download(filename: string, text: string): void;
}

/** No run shown: one empty map, so the drawing's memoised elements stay put. */
const NO_STATES = new Map<string, IStepRun>();

export class LiminalPanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly _actions: IPanelActions
  ) {
    super();
    this.addClass('liminal-panel');
    model.changed.connect(this.update, this);
    model.deploy.changed.connect(this.update, this);
  }

  dispose(): void {
    this.model.changed.disconnect(this.update, this);
    this.model.deploy.changed.disconnect(this.update, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    return <PanelView model={this.model} actions={this._actions} />;
  }
}

function PanelView(props: { model: PanelModel; actions: IPanelActions }) {
  const { model, actions } = props;
  if (!model.path) {
    return (
      <div className="liminal-body">
        <Header title="Pipeline" subtitle="" model={model} />
        <div className="liminal-empty">
          Open a notebook, or a pipeline file (liminal.yml), to see its pipeline.
        </div>
      </div>
    );
  }
  const response = model.pipeline;
  const pipeline = response?.pipeline ?? null;
  // The selected run's step states, only if it ran this version of the pipeline.
  const shown = pipeline ? dagStates(pipeline, model.runDetail) : null;
  return (
    <div className="liminal-body">
      <Header
        title={pipeline?.name ?? 'Pipeline'}
        subtitle={model.path}
        model={model}
      />
      <PipelineFileLine model={model} actions={actions} />
      {model.statusLine && (
        <div className="liminal-status-line" title={model.statusLine}>
          {model.statusLine}
        </div>
      )}
      {response && (
        <Diagnostics
          errors={response.errors}
          warnings={response.warnings}
          onJump={actions.jumpToCell}
        />
      )}
      {pipeline && (
        <Section title={`Steps (${pipeline.steps.length})`} name="dag">
          <button
            className="liminal-link-button liminal-open-pipeline"
            title="Open the graph in a main-area tab: zoom, pan, fit to view"
            onClick={() => actions.openPipeline()}
          >
            Open the pipeline
          </button>
          <DagView
            pipeline={pipeline}
            steps={shown?.states ?? NO_STATES}
            fanouts={shown?.fanouts}
            onStepClick={actions.jumpToStep}
          />
          {shown?.stale && (
            <div className="liminal-hint liminal-dag-stale">
              The run shown ran an earlier version of this pipeline: its step states
              are not drawn.
            </div>
          )}
        </Section>
      )}
      {pipeline && (
        <Section title={`Parameters (${pipeline.parameters.length})`} name="params">
          <ParameterForm model={model} pipeline={pipeline} />
        </Section>
      )}
      {response && <Actions model={model} actions={actions} />}
      <Section title="Runs" name="runs">
        <Runs model={model} actions={actions} />
      </Section>
    </div>
  );
}

/**
 * Which pipeline file the pipeline shown is: for a notebook that one lists, a link to the
 * file (runs act on it); for the file itself, its notebooks.
 */
function PipelineFileLine(props: { model: PanelModel; actions: IPanelActions }) {
  const { model, actions } = props;
  const target = model.target;
  const pipeline = model.pipeline?.pipeline;
  if (!target || target === model.path) {
    return isMultiNotebook(pipeline) ? (
      <div className="liminal-pipeline-file" data-path={target ?? ''}>
        Pipeline file of {pipeline?.notebooks?.length} notebooks:{' '}
        {(pipeline?.notebooks ?? []).map(n => notebookLabel(n.path)).join(', ')}
      </div>
    ) : null;
  }
  return (
    <div className="liminal-pipeline-file" data-path={target}>
      Part of the pipeline file{' '}
      <button
        className="liminal-link-button liminal-open-pipeline-file"
        title={`Open ${target}: Run, Compile, Submit and the runs act on the whole pipeline it lists`}
        onClick={() => actions.openPath(target)}
      >
        {target}
      </button>
    </div>
  );
}

function Header(props: { title: string; subtitle: string; model: PanelModel }) {
  const { model } = props;
  return (
    <div className="liminal-header">
      <div className="liminal-title" title={props.title}>
        {props.title}
      </div>
      <div className="liminal-subtitle" title={props.subtitle}>
        {props.subtitle}
      </div>
      {model.path && (
        <button
          className="liminal-button liminal-refresh"
          title="Read the saved notebook again"
          disabled={model.loading}
          onClick={() => {
            void model.refresh();
            void model.refreshRuns();
          }}
        >
          {model.loading ? 'Reading…' : 'Refresh'}
        </button>
      )}
    </div>
  );
}

function Section(props: { title: string; name: string; children: React.ReactNode }) {
  return (
    <div className={`liminal-section liminal-section-${props.name}`}>
      <div className="liminal-section-title">{props.title}</div>
      {props.children}
    </div>
  );
}

function Diagnostics(props: {
  errors: IDiagnostic[];
  warnings: IDiagnostic[];
  onJump: IPanelActions['jumpToCell'];
}) {
  const items = [...props.errors, ...props.warnings];
  if (!items.length) {
    return null;
  }
  return (
    <Section
      title={`Problems (${count(props.errors.length, 'error')}, ${count(
        props.warnings.length,
        'warning'
      )})`}
      name="problems"
    >
      <ul className="liminal-diagnostics">
        {items.map((d, i) => (
          <li
            key={i}
            className={`liminal-diagnostic liminal-diagnostic-${d.severity}`}
            data-code={d.code}
            title="Go to the cell"
            onClick={() => props.onJump(d, d.step)}
          >
            <span className="liminal-diagnostic-where">
              {d.severity}
              {d.cell_index !== null ? ` · cell ${d.cell_index + 1}` : ''}
              {d.line !== null ? `, line ${d.line}` : ''}
              {d.step ? ` · step ${d.step}` : ''}
            </span>
            <span className="liminal-diagnostic-message">{d.message}</span>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function ParameterForm(props: { model: PanelModel; pipeline: IPipeline }) {
  const { model, pipeline } = props;
  if (!pipeline.parameters.length) {
    return <div className="liminal-empty">No parameters cell.</div>;
  }
  const form = model.form;
  return (
    <div className="liminal-params">
      {pipeline.parameters.map(param => (
        <ParameterField
          key={param.name}
          param={param}
          text={model.formTexts[param.name] ?? ''}
          error={form.errors[param.name]}
          changed={param.name in form.overrides}
          onChange={text => model.setFormText(param.name, text)}
        />
      ))}
      <button
        className="liminal-link-button"
        onClick={() => model.resetForm()}
        disabled={!Object.keys(form.overrides).length && form.valid}
      >
        Reset to the notebook's defaults
      </button>
    </div>
  );
}

function ParameterField(props: {
  param: IParameter;
  text: string;
  error: string | undefined;
  changed: boolean;
  onChange: (text: string) => void;
}) {
  const { param, text, error } = props;
  const spec = fieldSpec(param);
  const id = `liminal-param-${param.name}`;
  let input: JSX.Element;
  switch (spec.kind) {
    case 'select':
      input = (
        <select id={id} value={text} onChange={e => props.onChange(e.target.value)}>
          {text === '' && <option value="">—</option>}
          {spec.options.map((o, i) => (
            <option key={i} value={String(i)}>
              {o.label}
            </option>
          ))}
        </select>
      );
      break;
    case 'checkbox':
      input = (
        <input
          id={id}
          type="checkbox"
          checked={text === 'true'}
          onChange={e => props.onChange(e.target.checked ? 'true' : 'false')}
        />
      );
      break;
    case 'number':
      input = (
        <input
          id={id}
          type="number"
          value={text}
          min={spec.min ?? undefined}
          max={spec.max ?? undefined}
          step={spec.step ?? undefined}
          placeholder={spec.placeholder}
          onChange={e => props.onChange(e.target.value)}
        />
      );
      break;
    default:
      input = (
        <input
          id={id}
          type="text"
          value={text}
          placeholder={spec.placeholder}
          onChange={e => props.onChange(e.target.value)}
        />
      );
  }
  const bounds =
    param.minimum !== null || param.maximum !== null
      ? ` ${param.minimum ?? ''}..${param.maximum ?? ''}`
      : '';
  return (
    <div
      className={`liminal-param${error ? ' liminal-param-invalid' : ''}${
        props.changed ? ' liminal-param-changed' : ''
      }`}
      data-param={param.name}
    >
      <label htmlFor={id} title={`${param.name}: ${param.help || param.type}`}>
        <span className="liminal-param-name">{param.name}</span>
        <span className="liminal-param-type">
          {param.type}
          {param.nullable ? ' | None' : ''}
          {bounds}
        </span>
      </label>
      {input}
      {error ? (
        <div className="liminal-param-error">{error}</div>
      ) : (
        param.help && <div className="liminal-param-help">{param.help}</div>
      )}
    </div>
  );
}

function Actions(props: { model: PanelModel; actions: IPanelActions }) {
  const { model, actions } = props;
  const valid = model.pipeline?.valid ?? false;
  // Every engine of the server's registry that runs; 'local' until the server answered.
  const backends = model.server?.backends ?? ['local'];
  const described = new Map(
    (model.server?.engines ?? []).map(e => [e.name, e.description])
  );
  const invalidHint = valid ? '' : 'Fix the problems above first';
  return (
    <div className="liminal-section liminal-actions">
      <div className="liminal-actions-options">
        <label title={described.get(model.backend) ?? 'Where the pipeline runs'}>
          Backend{' '}
          <select
            value={model.backend}
            onChange={e => model.setBackend(e.target.value)}
          >
            {backends.map(b => (
              <option key={b} value={b} title={described.get(b) ?? b}>
                {b}
              </option>
            ))}
          </select>
        </label>
        <label title="Reuse results of steps whose code, inputs and parameters did not change">
          <input
            type="checkbox"
            checked={model.useCache}
            onChange={e => model.setUseCache(e.target.checked)}
          />{' '}
          cache
        </label>
      </div>
      <div className="liminal-actions-buttons">
        <button
          className="liminal-button liminal-button-primary liminal-run"
          disabled={!valid || model.busy !== null}
          title={invalidHint || 'Run every step here, each in its own kernel'}
          onClick={() => void model.startRun()}
        >
          {model.busy === 'run' ? 'Starting…' : 'Run'}
        </button>
        <button
          className="liminal-button liminal-compile"
          disabled={!valid || model.busy !== null}
          title={invalidHint || 'Compile to Kubeflow Pipelines YAML and download it'}
          onClick={async () => {
            const file = await model.compile();
            if (file) {
              actions.download(file.filename, file.text);
            }
          }}
        >
          {model.busy === 'compile' ? 'Compiling…' : 'Compile'}
        </button>
      </div>
      <SubmitSection model={model} invalidHint={invalidHint} />
      <EngineList engines={model.server?.engines ?? []} selected={model.backend} />
      {model.action && (
        <div className={`liminal-action-message liminal-action-${model.action.kind}`}>
          {model.action.text}
          {model.action.url && (
            <>
              {' '}
              <a href={model.action.url} target="_blank" rel="noreferrer">
                open
              </a>
            </>
          )}
        </div>
      )}
    </div>
  );
}

/** How a run's link to its engine's own UI is labelled. */
const ENGINE_UI_NAMES: { [engine: string]: string } = { kfp: 'KFP', airflow: 'Airflow' };

/** The words shown for an engine's capabilities (GET /liminal/status), in this order. */
const CAPABILITY_WORDS: [keyof IEngineCapabilities, string][] = [
  ['run', 'runs here'],
  ['remote', 'remote'],
  ['submit', 'submits to a host'],
  ['compile', 'compiles'],
  ['cache', 'cache'],
  ['resume', 'resume'],
  ['cancel', 'cancel'],
  ['models', 'registers models'],
  ['logs', 'step logs']
];

/**
 * Every engine of the server's registry with what it can do, so a user sees why an
 * engine is (or is not) in the Backend list and which buttons it serves.
 */
function EngineList(props: { engines: IEngineInfo[]; selected: string }) {
  if (!props.engines.length) {
    return null;
  }
  return (
    <details className="liminal-engines">
      <summary>Engines ({props.engines.length})</summary>
      <ul>
        {props.engines.map(engine => (
          <li
            key={engine.name}
            className={`liminal-engine${
              engine.name === props.selected ? ' liminal-selected' : ''
            }`}
            data-engine={engine.name}
            title={engine.description}
          >
            <span className="liminal-engine-name">{engine.name}</span>{' '}
            <span className="liminal-engine-capabilities">
              {CAPABILITY_WORDS.filter(([key]) => engine.capabilities[key])
                .map(([, word]) => word)
                .join(' · ')}
            </span>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** The distinct values of `pick` among runs, sorted. */
function distinct(runs: IRun[], pick: (run: IRun) => string): string[] {
  return Array.from(new Set(runs.map(pick))).sort();
}

/** One filter of the runs list: "all" (the empty value), then each value runs have. */
function RunsFilter(props: {
  label: string;
  title: string;
  className: string;
  value: string;
  choices: string[];
  onChange: (value: string) => void;
}) {
  return (
    <label title={props.title}>
      {props.label}{' '}
      <select
        className={props.className}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        <option value="">all</option>
        {props.choices.map(name => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

function Runs(props: { model: PanelModel; actions: IPanelActions }) {
  const { model } = props;
  const [engine, setEngine] = React.useState('');
  const [status, setStatus] = React.useState('');
  if (!model.runs.length) {
    return (
      <div className="liminal-empty">
        No runs of this {model.target && model.target !== model.path ? 'pipeline' : 'notebook'} yet.
      </div>
    );
  }
  const engines = distinct(model.runs, run => run.backend);
  const statuses = distinct(model.runs, run => run.status);
  const shown = model.runs.filter(
    run => (!engine || run.backend === engine) && (!status || run.status === status)
  );
  return (
    <div>
      <div className="liminal-runs-filter">
        <RunsFilter
          label="Engine"
          title="Show only the runs of one engine"
          className="liminal-runs-engine"
          value={engine}
          choices={engines}
          onChange={setEngine}
        />{' '}
        <RunsFilter
          label="Status"
          title="Show only the runs in one state"
          className="liminal-runs-status"
          value={status}
          choices={statuses}
          onChange={setStatus}
        />
      </div>
      {!shown.length && <div className="liminal-empty">No run matches.</div>}
      <ul className="liminal-runs">
        {shown.map(run => (
          <RunRow
            key={run.run_id}
            run={run}
            selected={run.run_id === model.selectedRunId}
            onSelect={() => void model.selectRun(run.run_id)}
          />
        ))}
      </ul>
      {model.runDetail && <RunDetail model={model} actions={props.actions} />}
    </div>
  );
}

function RunRow(props: { run: IRun; selected: boolean; onSelect: () => void }) {
  const { run } = props;
  const style = statusStyle(run.status);
  const took = formatDuration(elapsed(run.started, run.ended, Date.now() / 1000));
  return (
    <li
      className={`liminal-run-row${props.selected ? ' liminal-selected' : ''}`}
      data-run={run.run_id}
      data-status={run.status}
      onClick={props.onSelect}
    >
      <span className="liminal-dot" style={{ background: style.fill }} />
      <span className="liminal-run-id" title={run.run_id}>
        {shortRunId(run.run_id)}
      </span>
      <span className="liminal-run-backend">
        {run.backend === 'local' ? '' : run.backend}
      </span>
      <span className="liminal-run-status">{style.label}</span>
      <span className="liminal-run-time">{took}</span>
    </li>
  );
}

/** A run id without its date (`20261126-153117-2de9` → `153117-2de9`); the full id is
 * the tooltip. */
function shortRunId(runId: string): string {
  return runId.replace(/^\d{8}-/, '');
}

function RunDetail(props: { model: PanelModel; actions: IPanelActions }) {
  const { model, actions } = props;
  const detail = model.runDetail;
  const [open, setOpen] = React.useState<string | null>(null);
  if (!detail) {
    return null;
  }
  const { run } = detail;
  const params = Object.entries(run.parameters ?? {});
  const steps = model.pipeline?.pipeline?.steps ?? [];
  // Fan-out steps: their elements listed right after them, their progress on their row.
  const elements = elementsOf(steps, detail.steps);
  const fanouts = model.pipeline?.pipeline
    ? dagStates(model.pipeline.pipeline, detail).fanouts
    : new Map<string, IFanOut>();
  // The step a record belongs to (an element's: its fan-out step's).
  const ownerOf = (record: string) => elements.get(record)?.[0] ?? record;
  return (
    <div className="liminal-run-detail" data-run={run.run_id} data-status={run.status}>
      <div className="liminal-run-detail-header">
        <span>
          Run {run.run_id}: <b>{statusStyle(run.status).label}</b>
        </span>
        {run.status === 'running' && (
          <button
            className="liminal-link-button liminal-cancel"
            disabled={model.busy !== null}
            onClick={() => void model.cancelRun()}
          >
            Cancel
          </button>
        )}
        {run.status !== 'running' && (
          <button
            className="liminal-link-button liminal-rerun"
            disabled={model.busy !== null || !(model.pipeline?.valid ?? false)}
            title={`Run again with this run's parameters (${
              params.length ? params.map(([k, v]) => `${k}=${formatMetric(v)}`).join(', ') : 'the defaults'
            }) on ${run.backend}`}
            onClick={() => void model.rerun(run)}
          >
            Re-run
          </button>
        )}
        {canReport(run) && (
          <button
            className="liminal-link-button liminal-run-report"
            title="One page for this run: DAG, parameters, metrics, models and every step's executed notebook"
            onClick={() =>
              void model.runReport().then(report => {
                if (report) {
                  actions.openReport(report.title, report.html);
                }
              })
            }
          >
            Report
          </button>
        )}
        {detail.mlflow_url && (
          <a
            className="liminal-mlflow-link"
            href={detail.mlflow_url}
            target="_blank"
            rel="noreferrer"
          >
            MLflow run
          </a>
        )}
        {detail.engine_url && (
          <a
            className="liminal-engine-link"
            href={detail.engine_url}
            target="_blank"
            rel="noreferrer"
            title={`This run in ${run.backend}'s own UI`}
          >
            {ENGINE_UI_NAMES[run.backend] ?? run.backend} run
          </a>
        )}
      </div>
      {detail.remote_note && (
        <div className="liminal-remote-note">{detail.remote_note}</div>
      )}
      {run.message && <div className="liminal-run-message">{run.message}</div>}
      {params.length > 0 && (
        <div className="liminal-run-params">
          {params.map(([k, v]) => `${k}=${formatMetric(v)}`).join(', ')}
        </div>
      )}
      <table className="liminal-steps">
        <colgroup>
          <col style={{ width: '16px' }} />
          <col />
          <col style={{ width: '52px' }} />
          <col style={{ width: '24px' }} />
        </colgroup>
        <tbody>
          {elementsAfterTheirStep(steps, detail.steps).map(step => {
            const style = statusStyle(step.status);
            const element = elements.get(step.step);
            const fan = fanouts.get(step.step);
            const failedElements = fan ? fan.elements.filter(e => e.status === 'failed') : [];
            const metrics = Object.entries(step.metrics ?? {});
            const isOpen = open === step.step;
            // The real file when the server shows hidden files, else a read-only view.
            const opens = howToOpen(model.server, step);
            // Part of the pipeline, as `liminal-nb run --from/--to`: local runs of a step
            // the notebook still has (the run may be of an older version).
            const partialRuns =
              model.backend === 'local' &&
              !!model.pipeline?.pipeline?.steps.some(s => s.name === step.step);
            return (
              <React.Fragment key={step.step}>
                <tr
                  className={`liminal-step-row${element ? ' liminal-step-element' : ''}`}
                  data-step={step.step}
                  data-status={step.status}
                  data-element={element ? element[1] : undefined}
                  data-done={fan ? fan.done : undefined}
                  data-failed={fan ? fan.failed : undefined}
                  data-total={fan ? fan.total : undefined}
                  onClick={() => setOpen(isOpen ? null : step.step)}
                  title="Show the log tail"
                >
                  <td title={style.label}>
                    <span className="liminal-dot" style={{ background: style.fill }} />
                  </td>
                  <td className="liminal-step-name" title={step.step}>
                    {step.step}
                    {step.status !== 'succeeded' && (
                      <span
                        className="liminal-step-status"
                        title={
                          step.cached_from_run
                            ? `cached from run ${step.cached_from_run}`
                            : style.label
                        }
                      >
                        {' '}
                        {style.label}
                      </span>
                    )}
                    {fan && fan.total > 0 && (
                      <span
                        className="liminal-step-fanout"
                        title={`one run per element of ${fan.over}`}
                      >
                        {' '}
                        {fanOutText(fan)}
                      </span>
                    )}
                  </td>
                  <td className="liminal-step-duration">
                    {formatDuration(step.duration)}
                  </td>
                  <td className="liminal-step-open">
                    {opens && (
                      <button
                        className="liminal-link-button liminal-open-executed"
                        data-opens={opens}
                        title={`${
                          opens === 'file' ? 'Open' : 'View (read-only)'
                        } the executed notebook ${step.executed_notebook_path}`}
                        aria-label="open the executed notebook"
                        onClick={event => {
                          event.stopPropagation();
                          actions.openExecuted(step);
                        }}
                      >
                        ↗
                      </button>
                    )}
                  </td>
                </tr>
                {metrics.length > 0 && (
                  <tr className="liminal-step-metrics">
                    <td />
                    <td colSpan={3}>
                      {metrics.map(([k, v]) => `${k}=${formatMetric(v)}`).join(', ')}
                    </td>
                  </tr>
                )}
                {(isOpen || step.error) && (
                  <tr className="liminal-step-more">
                    <td />
                    <td colSpan={3}>
                      {step.error && !failedElements.length && (
                        <div
                          className="liminal-step-error"
                          title="Go to the cell in the notebook"
                          onClick={() => actions.jumpToCell(step.error ?? {}, ownerOf(step.step))}
                        >
                          {errorText(step.error)}
                        </div>
                      )}
                      {failedElements.length > 0 && (
                        <div className="liminal-step-element-errors">
                          {failedElements.map(e => (
                            <div
                              key={e.step}
                              className="liminal-step-error liminal-step-element-error"
                              data-step={e.step}
                              title="Go to the cell in the notebook"
                              onClick={() => actions.jumpToCell(e.error ?? {}, step.step)}
                            >
                              {e.error?.element
                                ? errorText(e.error)
                                : `element ${elements.get(e.step)?.[1]}: ${
                                    e.error ? errorText(e.error) : 'failed'
                                  }`}
                            </div>
                          ))}
                        </div>
                      )}
                      <div className="liminal-step-actions">
                        {canDebug(step) && (
                          <button
                            className="jp-Button jp-mod-styled jp-mod-accept liminal-debug-step"
                            title="Load this step's inputs into the notebook's kernel, then select the cell that failed"
                            onClick={event => {
                              event.stopPropagation();
                              void actions.debug(step);
                            }}
                          >
                            Debug
                          </button>
                        )}
                        {partialRuns && (
                          <>
                            <button
                              className="jp-Button jp-mod-styled liminal-run-from"
                              title={`Run ${step.step} and every step that depends on it; earlier steps give the outputs of their latest successful run (liminal-nb run --from ${step.step})`}
                              disabled={!!model.busy}
                              onClick={event => {
                                event.stopPropagation();
                                void model.startRun({ from: step.step });
                              }}
                            >
                              Run from here
                            </button>
                            <button
                              className="jp-Button jp-mod-styled liminal-run-to"
                              title={`Run ${step.step} and the steps it depends on (liminal-nb run --to ${step.step})`}
                              disabled={!!model.busy}
                              onClick={event => {
                                event.stopPropagation();
                                void model.startRun({ to: step.step });
                              }}
                            >
                              Run to here
                            </button>
                          </>
                        )}
                        {canLoadInputs(step) && (
                          <button
                            className="jp-Button jp-mod-styled liminal-load-inputs"
                            title={`Load what step ${step.step} read in run ${step.run_id} into the notebook's kernel (%liminal inputs)`}
                            onClick={event => {
                              event.stopPropagation();
                              void actions.loadInputs(step);
                            }}
                          >
                            Load inputs into kernel
                          </button>
                        )}
                      </div>
                      {isOpen &&
                        (step.log_tail ? (
                          <pre className="liminal-log">{step.log_tail}</pre>
                        ) : (
                          <div className="liminal-empty">No log yet.</div>
                        ))}
                    </td>
                  </tr>
                )}
              </React.Fragment>
            );
          })}
        </tbody>
      </table>
      <RunModels
        deploy={model.deploy}
        models={detail.models ?? []}
        pending={!!detail.models_pending}
        notebookPath={model.target}
        settingUri={model.settings.mlflowTrackingUri}
        opener={actions}
      />
    </div>
  );
}
