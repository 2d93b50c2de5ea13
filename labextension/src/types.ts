/**
 * The shapes the panel reads: the pipeline IR (docs/ir.md) and the server extension's
 * REST bodies (docs/rest-api.md). Only the fields the panel uses are typed; readers must
 * ignore the rest (the IR only ever adds fields within a schema version).
 */

import type { IRegisteredModel } from './deployment';

export type ParameterType =
  | 'int'
  | 'float'
  | 'str'
  | 'bool'
  | 'list'
  | 'dict'
  | 'any';

export type JSONValue =
  | null
  | boolean
  | number
  | string
  | JSONValue[]
  | { [key: string]: JSONValue };

export interface IParameter {
  name: string;
  type: ParameterType;
  default: JSONValue;
  help: string;
  nullable: boolean;
  choices: JSONValue[] | null;
  minimum: number | null;
  maximum: number | null;
  cell_index: number | null;
  cell_id: string | null;
  line: number | null;
}

export interface ICellRef {
  index: number;
  id: string | null;
  source: string;
}

export interface IStepInput {
  name: string;
  /** 'file': `name` is a path an earlier step (`producer`) writes (a file edge). */
  kind: 'data' | 'parameter' | 'import' | 'file';
  producer: string | null;
}

export interface IMetric {
  name: string;
  expression: string;
  cell_index: number | null;
  cell_id: string | null;
  line: number | null;
}

export interface IModel {
  variable: string;
  registered_name: string | null;
}

export interface IStep {
  name: string;
  cells: ICellRef[];
  phase: string | null;
  inputs: IStepInput[];
  outputs: string[];
  after: string[];
  metrics: IMetric[];
  models: IModel[];
  /** `foreach:NAME`: the step runs once per element of NAME (IR version 3). */
  foreach?: string | null;
  /** Its notebook, relative to the pipeline file's folder; '' in a one-notebook pipeline. */
  notebook?: string;
}

/** One notebook of a pipeline file (IR version 3, `notebooks`), in the file's order. */
export interface INotebookPart {
  path: string;
  parameter_cells?: ICellRef[];
  prelude?: ICellRef[];
}

export interface IEdge {
  source: string;
  target: string;
  kind: 'data' | 'file' | 'order';
  variables: string[];
  /** Paths the source writes and the target reads (absent in older IR documents). */
  files?: string[];
}

export interface IDiagnostic {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  notebook: string;
  cell_index: number | null;
  cell_id: string | null;
  line: number | null;
  step: string | null;
}

export interface IPipeline {
  schema_version: number;
  name: string;
  description: string;
  parameters: IParameter[];
  parameter_cells: ICellRef[];
  prelude: ICellRef[];
  steps: IStep[];
  edges: IEdge[];
  order: string[];
  /** A pipeline file's notebooks in its order; empty for one notebook. */
  notebooks?: INotebookPart[];
  valid: boolean;
  errors: IDiagnostic[];
  warnings: IDiagnostic[];
}

/** GET /liminal/pipeline?path=P */
export interface IPipelineResponse {
  path: string;
  valid: boolean;
  pipeline: IPipeline | null;
  errors: IDiagnostic[];
  warnings: IDiagnostic[];
  /** The pipeline file (root-relative) that lists this notebook, whose whole pipeline
   * `pipeline` is; null when it belongs to none (or `path` is the file itself). */
  pipeline_file?: string | null;
}

export type RunStatus =
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'interrupted'
  | 'cancelled';

export type StepStatus =
  | 'waiting'
  | 'running'
  | 'succeeded'
  | 'cached'
  | 'failed'
  | 'skipped'
  | 'interrupted';

/** RunRecord.to_json() (liminal_jupyter/runs/store.py). */
export interface IRun {
  run_id: string;
  notebook: string;
  pipeline_name: string;
  backend: string;
  status: RunStatus | string;
  created: number;
  started: number | null;
  ended: number | null;
  parameters: { [name: string]: JSONValue };
  host: string | null;
  remote_id: string | null;
  tracking_run_id: string | null;
  message: string | null;
}

export interface IStepError {
  step?: string;
  cell_index?: number | null;
  cell_id?: string | null;
  ename?: string;
  evalue?: string;
  message?: string;
  /** The element of a fan-out step that failed (step/foreach.py). */
  element?: { name?: string; index?: number; value?: string } | null;
}

/** StepRecord.to_json() plus the server's additions. */
export interface IStepRun {
  run_id: string;
  step: string;
  status: StepStatus | string;
  started: number | null;
  ended: number | null;
  attempt: number;
  cached_from_run: string | null;
  metrics: { [name: string]: JSONValue };
  error: IStepError | null;
  executed_notebook: string | null;
  duration: number | null;
  log_tail: string;
  executed_notebook_path: string | null;
}

/** GET /liminal/runs/ID */
export interface IRunDetail {
  run: IRun;
  steps: IStepRun[];
  mlflow_url: string | null;
  /** The run's page in its engine's own UI (a KFP or Airflow run), else null. */
  engine_url?: string | null;
  /** Why a remote run's host could not be asked for its state; its last state stays. */
  remote_note?: string | null;
  /** The model versions the run registered (deployment.ts). */
  models?: IRegisteredModel[];
  /** The runner is still recording them: read the run again. */
  models_pending?: boolean;
}

/** What an engine can do (liminal_jupyter/engines/base.py, Capabilities). */
export interface IEngineCapabilities {
  remote: boolean;
  run: boolean;
  submit: boolean;
  compile: boolean;
  resume: boolean;
  cancel: boolean;
  cache: boolean;
  models: boolean;
  logs: boolean;
}

/** A host setting an engine's submit reads (engines/base.py, SubmitOption). */
export interface ISubmitOption {
  name: string;
  label: string;
  help: string;
  /** A password or token: a password input, never remembered by the panel. */
  secret: boolean;
  required: boolean;
  placeholder: string;
}

/** An engine of the server's registry, as GET /liminal/status lists it. */
export interface IEngineInfo {
  name: string;
  description: string;
  capabilities: IEngineCapabilities;
  /** The host settings of its submit, when it submits. */
  submit_options?: ISubmitOption[];
}

/** GET /liminal/status */
export interface IServerStatus {
  version: string;
  root_dir: string;
  /** The engines that run a pipeline from here (`liminal-nb run --backend`). */
  backends: string[];
  /** Every engine of the registry, with what it can do. */
  engines?: IEngineInfo[];
  /** ContentsManager.allow_hidden: whether executed notebooks under .liminal/ can open. */
  allow_hidden?: boolean;
}

/** The panel's settings (labextension/schema/plugin.json). */
export interface ISettings {
  kfpHost: string;
  mlflowTrackingUri: string;
  defaultImage: string;
  maxParallelSteps: number;
}

export const DEFAULT_SETTINGS: ISettings = {
  kfpHost: '',
  mlflowTrackingUri: '',
  defaultImage: '',
  maxParallelSteps: 0
};
