/**
 * The Submit part of the panel: hand the run to a host (KFP, an Airflow deployment: every
 * engine whose capabilities say `submit`), with the host settings that engine's
 * `submit_options()` name. Secrets are password inputs and are never remembered; the rest
 * is remembered for the browser session (submitSettings.ts).
 */

import * as React from 'react';

import { PanelModel } from './model';

export function SubmitSection(props: { model: PanelModel; invalidHint: string }) {
  const { model, invalidHint } = props;
  const engines = model.submitEngines;
  const target = model.submitTarget;
  if (!target) {
    return null;
  }
  const values = model.submitFields;
  const missing = model.submitMissing;
  const options = target.submit_options ?? [];
  const host = (values.host ?? '').trim();
  return (
    <div className="liminal-submit-section" data-engine={target.name}>
      <div
        className="liminal-submit-title"
        title="Hand the run to a host; the panel follows it here"
      >
        Submit to a host
      </div>
      <div className="liminal-submit-fields">
        <label title={target.description}>
          Engine{' '}
          <select
            className="liminal-submit-engine"
            value={target.name}
            onChange={e => model.setSubmitEngine(e.target.value)}
          >
            {engines.map(e => (
              <option key={e.name} value={e.name} title={e.description}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        {options.map(option => {
          const id = `liminal-submit-${target.name}-${option.name}`;
          return (
            <div
              key={`${target.name}:${option.name}`}
              className="liminal-submit-field"
              data-setting={option.name}
            >
              <label htmlFor={id} title={option.help}>
                {option.label}
                {option.required ? ' *' : ''}
              </label>
              <input
                id={id}
                type={option.secret ? 'password' : 'text'}
                autoComplete={option.secret ? 'off' : undefined}
                value={values[option.name] ?? ''}
                placeholder={option.placeholder || option.help}
                title={option.help}
                onChange={e => model.setSubmitText(option.name, e.target.value)}
              />
            </div>
          );
        })}
      </div>
      <div className="liminal-actions-buttons">
        <button
          className="liminal-button liminal-submit"
          disabled={!!invalidHint || missing.length > 0 || model.busy !== null}
          title={
            invalidHint ||
            (missing.length
              ? `Fill in ${missing.join(', ')} to submit`
              : `Submit to ${target.name} at ${host || 'its host'}`)
          }
          onClick={() => void model.submit()}
        >
          {model.busy === 'submit' ? 'Submitting…' : `Submit to ${target.name}`}
        </button>
      </div>
      {missing.length > 0 && (
        <div className="liminal-hint">
          Submit to {target.name} needs {missing.join(', ')}
          {target.name === 'kfp' ? ' (KFP host: also Settings › Liminal)' : ''}.
        </div>
      )}
    </div>
  );
}
