/**
 * liminal-jupyter's JupyterLab plugin: the pipeline side panel for the active notebook,
 * the step badges on its cells, and the commands that set a cell's role.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { applyBadges, applyCellBadge } from './badges';
import { cellBadges, ICellBadges, locateCell, stepFirstCell } from './cells';
import { howToOpen } from './executed';
import { liminalIcon } from './icons';
import { loadInputsIntoKernel } from './kernelInputs';
import { PanelModel } from './model';
import { LiminalPanel } from './panel';
import { isRunArtifact } from './paths';
import { PipelineTab } from './pipelineTab';
import { reportWidget } from './reportView';
import { LiminalApi } from './request';
import { registerRoleCommands } from './roles';
import { DEFAULT_SETTINGS, IPipelineResponse, ISettings } from './types';
import { ExecutedNotebookViewers } from './viewer';

export const PLUGIN_ID = 'liminal-jupyter:plugin';

const CommandIds = {
  openPanel: 'liminal:open-panel',
  openPipeline: 'liminal:open-pipeline',
  refresh: 'liminal:refresh'
};

function readSettings(settings: ISettingRegistry.ISettings): ISettings {
  const get = <T>(key: keyof ISettings, fallback: T): T => {
    const value = settings.get(key).composite as unknown;
    return value === undefined || value === null ? fallback : (value as T);
  };
  return {
    kfpHost: get('kfpHost', DEFAULT_SETTINGS.kfpHost),
    mlflowTrackingUri: get('mlflowTrackingUri', DEFAULT_SETTINGS.mlflowTrackingUri),
    defaultImage: get('defaultImage', DEFAULT_SETTINGS.defaultImage),
    maxParallelSteps: get('maxParallelSteps', DEFAULT_SETTINGS.maxParallelSteps)
  };
}

function activate(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  docManager: IDocumentManager,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  restorer: ILayoutRestorer | null,
  rendermime: IRenderMimeRegistry | null,
  languages: IEditorLanguageRegistry | null
): void {
  const model = new PanelModel(new LiminalApi(app.serviceManager.serverSettings));
  const viewers = rendermime
    ? new ExecutedNotebookViewers(app, model.api, rendermime, languages)
    : null;

  const panelFor = (path: string | null): NotebookPanel | null =>
    path ? tracker.find(p => p.context.path === path) ?? null : null;

  const jumpToCell = (target: { cell_index?: number | null; cell_id?: string | null }) => {
    const panel = panelFor(model.path);
    if (!panel) {
      return;
    }
    const notebook = panel.content;
    const ids = notebook.widgets.map(cell => cell.model.id ?? null);
    const index = locateCell(ids, target);
    app.shell.activateById(panel.id);
    if (index < 0) {
      return;
    }
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    notebook.mode = 'command';
    void notebook.scrollToCell(notebook.widgets[index], 'center');
  };

  const jumpToStep = (step: string) => {
    const pipeline = model.pipeline?.pipeline;
    const first = pipeline ? stepFirstCell(pipeline, step) : null;
    if (first) {
      jumpToCell(first);
    }
  };

  // One main-area tab per notebook; opening it again brings it forward.
  const openPipeline = () => {
    const path = model.path;
    if (!path) {
      return;
    }
    const id = PipelineTab.idFor(path);
    let tab = Array.from(app.shell.widgets('main')).find(w => w.id === id);
    if (!tab) {
      tab = new PipelineTab(model, path, jumpToStep);
      app.shell.add(tab, 'main', { mode: 'split-right' });
    }
    app.shell.activateById(id);
  };

  const widget = new LiminalPanel(model, {
    jumpToCell,
    jumpToStep,
    openPipeline,
    openPath: path => {
      docManager.openOrReveal(path);
    },
    openReport: (title, html) => {
      const report = reportWidget(title, html);
      app.shell.add(report, 'main');
      app.shell.activateById(report.id);
    },
    loadInputs: async step => {
      const panel = panelFor(model.path);
      return panel
        ? loadInputsIntoKernel(panel, model.pipeline?.pipeline ?? null, step)
        : false;
    },
    debug: async step => {
      const panel = panelFor(model.path);
      if (!panel) {
        return;
      }
      const loaded = await loadInputsIntoKernel(panel, model.pipeline?.pipeline ?? null, step);
      if (loaded && step.error) {
        jumpToCell(step.error);
      }
    },
    openExecuted: step => {
      const how = howToOpen(model.server, step);
      if (how === 'viewer' && viewers && model.path) {
        void viewers.open({ path: model.path, runId: step.run_id, step: step.step });
      } else if (how) {
        docManager.openOrReveal(step.executed_notebook_path as string);
      }
    },
    download: (filename, text) => {
      const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
      const anchor = document.createElement('a');
      anchor.href = url;
      anchor.download = filename;
      document.body.appendChild(anchor);
      anchor.click();
      anchor.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 1000);
    }
  });
  widget.id = 'liminal-pipeline-panel';
  widget.title.icon = liminalIcon;
  widget.title.caption = 'Liminal pipeline';
  app.shell.add(widget, 'left', { rank: 650 });
  restorer?.add(widget, 'liminal-pipeline-panel');

  // Badges follow the pipeline the model holds, on the notebook it belongs to. Cells
  // render lazily, so a cell also gets its badge when it scrolls into view.
  let badged: { panel: NotebookPanel; badges: ICellBadges | null } | null = null;
  let badgedResponse: IPipelineResponse | null = null;
  const updateBadges = () => {
    const panel = panelFor(model.path);
    if (badged && badged.panel !== panel && !badged.panel.isDisposed) {
      applyBadges(badged.panel, null);
    }
    const pipeline = model.pipeline?.pipeline ?? null;
    badgedResponse = model.pipeline;
    badged = panel ? { panel, badges: pipeline ? cellBadges(pipeline) : null } : null;
    if (badged) {
      applyBadges(badged.panel, badged.badges);
    }
  };
  model.changed.connect(() => {
    if (badgedResponse !== model.pipeline || badged?.panel !== panelFor(model.path)) {
      updateBadges();
    }
  });

  // Follow the active notebook; re-read its pipeline whenever it is saved.
  const follow = (panel: NotebookPanel | null) => {
    if (panel && isRunArtifact(panel.context.path)) {
      return;
    }
    void model.setNotebook(panel ? panel.context.path : null);
  };
  tracker.currentChanged.connect((_, panel) => follow(panel));
  tracker.widgetAdded.connect((_, panel) => {
    panel.context.fileChanged.connect(() => {
      if (panel.context.path === model.path) {
        void model.refresh();
      }
    });
    panel.context.pathChanged.connect(() => {
      if (tracker.currentWidget === panel) {
        follow(panel);
      }
    });
    panel.content.model?.cells.changed.connect(() => {
      if (badged?.panel === panel) {
        applyBadges(panel, badged.badges);
      }
    });
    panel.content.cellInViewportChanged.connect((notebook, cell) => {
      if (badged?.panel === panel && cell.inViewport) {
        applyCellBadge(cell, notebook.widgets.indexOf(cell), badged.badges);
      }
    });
    // Cells get their widgets when the notebook renders: badge them once it is ready.
    void panel.context.ready.then(() => {
      if (panel.context.path === model.path) {
        updateBadges();
      }
    });
  });
  follow(tracker.currentWidget);

  if (settingRegistry) {
    settingRegistry
      .load(PLUGIN_ID)
      .then(settings => {
        model.setSettings(readSettings(settings));
        settings.changed.connect(() => model.setSettings(readSettings(settings)));
      })
      .catch(reason => {
        console.warn('liminal-jupyter: settings not loaded', reason);
      });
  }

  app.commands.addCommand(CommandIds.openPanel, {
    label: 'Show the pipeline panel',
    icon: liminalIcon,
    execute: () => app.shell.activateById(widget.id)
  });
  app.commands.addCommand(CommandIds.openPipeline, {
    label: 'Open the pipeline of the active notebook in a tab',
    icon: liminalIcon,
    isEnabled: () => !!model.pipeline?.pipeline,
    execute: openPipeline
  });
  app.commands.addCommand(CommandIds.refresh, {
    label: 'Re-read the pipeline of the active notebook',
    execute: () => model.refresh()
  });
  palette?.addItem({ command: CommandIds.openPanel, category: 'Liminal pipeline' });
  palette?.addItem({ command: CommandIds.refresh, category: 'Liminal pipeline' });
  palette?.addItem({ command: CommandIds.openPipeline, category: 'Liminal pipeline' });

  registerRoleCommands(app, tracker, palette);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The liminal pipeline panel: see a tagged notebook as a pipeline, run it, compile it, submit it, watch its runs.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IRenderMimeRegistry,
    IEditorLanguageRegistry
  ],
  activate
};

export default plugin;
