/**
 * "Open the pipeline": the DAG of one notebook (or pipeline file) in a main-area tab, where there is room
 * to zoom, pan and fit it to the view. It draws the panel's model, so a run's step
 * states colour it live as they do the panel; it shows its own notebook's pipeline only
 * (when another notebook is active, it says so rather than draw a different pipeline).
 */

import * as React from 'react';

import { ReactWidget } from '@jupyterlab/ui-components';

import { DagView } from './dag';
import { liminalIcon } from './icons';
import { PanelModel } from './model';
import { dagStates } from './runstate';

export class PipelineTab extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    readonly path: string,
    private readonly _onStepClick: (step: string) => void
  ) {
    super();
    this.id = PipelineTab.idFor(path);
    this.addClass('liminal-pipeline-tab');
    this.title.icon = liminalIcon;
    this.title.closable = true;
    this.title.caption = `Pipeline of ${path}`;
    this.title.label = `Pipeline · ${path.split('/').pop()}`;
    model.changed.connect(this.update, this);
  }

  static idFor(path: string): string {
    return `liminal-pipeline-tab:${path}`;
  }

  dispose(): void {
    this.model.changed.disconnect(this.update, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const { model } = this;
    // The tab is of a run target: a notebook, or a pipeline file (any of its notebooks
    // being active shows it too).
    const pipeline = model.target === this.path ? model.pipeline?.pipeline ?? null : null;
    if (pipeline) {
      this.title.label = `Pipeline · ${pipeline.name}`;
    }
    if (!pipeline) {
      return (
        <div className="liminal-pipeline-tab-body liminal-empty">
          {model.target === this.path
            ? 'No pipeline (see the problems in the side panel).'
            : `Select ${this.path} to see its pipeline here.`}
        </div>
      );
    }
    const shown = dagStates(pipeline, model.runDetail);
    return (
      <div className="liminal-pipeline-tab-body" data-path={this.path}>
        <DagView
          pipeline={pipeline}
          steps={shown.states}
          fanouts={shown.fanouts}
          onStepClick={this._onStepClick}
          mode="main"
        />
        {shown.stale && (
          <div className="liminal-hint liminal-dag-stale">
            The run shown ran an earlier version of this pipeline: its step states are not
            drawn.
          </div>
        )}
      </div>
    );
  }
}
