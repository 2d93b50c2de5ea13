/**
 * The Deploy and Monitor actions in a run's detail: for each model version the run
 * registered, Deploy (port optional) → the serving URL with Copy and Stop, and Monitor
 * (a data file of the notebook's folder) → the drifted features and the HTML report in a
 * main-area tab. State lives in DeployModel; outcomes are quiet lines, never dialogs.
 */

import * as React from 'react';

import { Clipboard } from '@jupyterlab/apputils';

import { DeployModel } from './deployModel';
import {
  driftView,
  IRegisteredModel,
  IServedModel,
  servedFor,
  validationLabel
} from './deployment';

export interface IReportOpener {
  /** Show a drift report's HTML in a main-area tab (in a sandboxed frame). */
  openReport(title: string, html: string): void;
}

export function RunModels(props: {
  deploy: DeployModel;
  models: IRegisteredModel[];
  pending: boolean;
  notebookPath: string | null;
  settingUri: string;
  opener: IReportOpener;
}) {
  const { deploy, models, notebookPath } = props;
  const names = models.map(m => `${m.name}@${m.version}`).join(',');
  React.useEffect(() => {
    if (models.length) {
      void deploy.refresh(notebookPath);
    }
  }, [names, notebookPath]);
  if (!models.length) {
    return props.pending ? (
      <div className="liminal-empty liminal-models-pending">Recording the run's models…</div>
    ) : null;
  }
  const listId = 'liminal-data-files';
  return (
    <div className="liminal-models">
      <div className="liminal-models-title">Models</div>
      <datalist id={listId}>
        {deploy.dataFiles.map(path => (
          <option key={path} value={path} />
        ))}
      </datalist>
      {models.map(model => (
        <ModelRow key={`${model.name}@${model.version}`} {...props} model={model} listId={listId} />
      ))}
    </div>
  );
}

function ModelRow(props: {
  deploy: DeployModel;
  model: IRegisteredModel;
  notebookPath: string | null;
  settingUri: string;
  opener: IReportOpener;
  listId: string;
}) {
  const { deploy, model, notebookPath, settingUri, opener } = props;
  const state = deploy.state(model);
  const served = servedFor(deploy.served, model);
  const badge = validationLabel(model);
  return (
    <div className="liminal-model" data-model={model.name} data-version={model.version}>
      <div className="liminal-model-name" title={`${model.uri}: variable ${model.variable} of step ${model.step}`}>
        {model.name} <span className="liminal-model-version">v{model.version}</span>
        {badge.text && (
          <span className="liminal-model-alias" title={badge.title}>
            {badge.text}
          </span>
        )}
      </div>
      {served ? (
        <ServedLine deploy={deploy} model={model} served={served} />
      ) : (
        <div className="liminal-model-action">
          <input
            className="liminal-deploy-port"
            type="text"
            inputMode="numeric"
            placeholder="port (free)"
            aria-label="port to serve on (empty: a free port)"
            value={state.port}
            disabled={state.busy !== null}
            onChange={e => deploy.setPort(model, e.target.value)}
          />
          <button
            className="liminal-button liminal-deploy"
            disabled={state.busy !== null}
            title="Serve this version on this machine (MLflow's scoring server, 127.0.0.1)"
            onClick={() => void deploy.deploy(model, notebookPath, settingUri)}
          >
            {state.busy === 'deploy' ? 'Deploying…' : 'Deploy'}
          </button>
        </div>
      )}
      <div className="liminal-model-action">
        <input
          className="liminal-monitor-data"
          type="text"
          list={props.listId}
          placeholder="new data: folder/rows.csv"
          aria-label="data file to check for drift (relative to the server's root)"
          value={state.data}
          disabled={state.busy !== null}
          onChange={e => deploy.setData(model, e.target.value)}
        />
        <button
          className="liminal-button liminal-monitor"
          disabled={state.busy !== null}
          title="Compare the file with the model's training data (PSI per feature)"
          onClick={async () => {
            const page = await deploy.monitor(model, notebookPath, settingUri);
            if (page) {
              opener.openReport(page.title, page.html);
            }
          }}
        >
          {state.busy === 'monitor' ? 'Checking…' : 'Monitor'}
        </button>
      </div>
      {state.message && (
        <div className={`liminal-model-message liminal-model-${state.message.kind}`}>
          {state.message.text}
        </div>
      )}
      {state.drift && <DriftSummary deploy={deploy} model={model} opener={opener} />}
    </div>
  );
}

function ServedLine(props: { deploy: DeployModel; model: IRegisteredModel; served: IServedModel }) {
  const { deploy, model, served } = props;
  const busy = deploy.state(model).busy !== null;
  return (
    <div className="liminal-model-action liminal-serving" data-port={served.port}>
      <span className="liminal-serving-label">Serving at</span>{' '}
      <a
        className="liminal-serving-url"
        href={served.invocations_url}
        target="_blank"
        rel="noreferrer"
        title="POST rows here, e.g. {&quot;dataframe_records&quot;: [...]}"
      >
        {served.invocations_url}
      </a>
      <button
        className="liminal-link-button liminal-copy-url"
        title="Copy the URL"
        onClick={() => Clipboard.copyToSystem(served.invocations_url)}
      >
        Copy
      </button>
      <button
        className="liminal-link-button liminal-stop-serving"
        disabled={busy}
        title="Stop the model server"
        onClick={() => void deploy.stop(model, served)}
      >
        {deploy.state(model).busy === 'stop' ? 'Stopping…' : 'Stop'}
      </button>
    </div>
  );
}

function DriftSummary(props: { deploy: DeployModel; model: IRegisteredModel; opener: IReportOpener }) {
  const { deploy, model, opener } = props;
  const result = deploy.state(model).drift;
  if (!result) {
    return null;
  }
  const view = driftView(result);
  return (
    <div
      className="liminal-drift"
      data-drifted={view.drifted.length ? 'true' : 'false'}
    >
      <div className="liminal-drift-headline">{view.headline}</div>
      {view.drifted.length > 0 && (
        <ul className="liminal-drift-features">
          {view.drifted.map(d => (
            <li key={d.feature} data-feature={d.feature}>
              {d.feature} <span className="liminal-drift-psi">PSI {d.psi}</span>
            </li>
          ))}
        </ul>
      )}
      <button
        className="liminal-link-button liminal-open-report"
        onClick={async () => {
          try {
            const page = await deploy.report(result);
            opener.openReport(page.title, page.html);
          } catch {
            // the report file was removed: the summary above still says it all
          }
        }}
      >
        Open the report
      </button>
    </div>
  );
}
