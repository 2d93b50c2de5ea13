/**
 * liminal-jupyter's JupyterLab plugin: the pipeline side panel for the active notebook
 * or pipeline file (liminal.yml), the step badges on its cells, and the commands that
 * set a cell's role.
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
import { Widget } from '@lumino/widgets';

import { applyBadges, applyCellBadge } from './badges';
import { cellBadges, ICellBadges, locateCell, stepFirstCell } from './cells';
import { howToOpen } from './executed';
import { liminalIcon } from './icons';
import { loadInputsIntoKernel } from './kernelInputs';
import { PanelModel } from './model';
import { LiminalPanel } from './panel';
import { isRunArtifact } from './paths';
import { isMultiNotebook, isPipelineFile, isYamlPath, notebookOf, notebookPath } from './pipefile';
import { elementIndex } from './runstate';
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

  /**
   * The server-root path of the notebook step `name` is in (an element `STEP.I`: its
   * step's): in a pipeline file's pipeline, the step's own notebook; else the notebook
   * followed.
   */
  const notebookOfStep = (name: string | null | undefined): string | null => {
    const pipeline = model.pipeline?.pipeline;
    const target = model.target;
    if (!name || !target || !isMultiNotebook(pipeline)) {
      return model.path;
    }
    const step = pipeline?.steps.find(
      s => s.name === name || elementIndex(s.name, name) !== null
    );
    return step ? notebookPath(target, step.notebook) : model.path;
  };

  /** The notebook at `path`, open (opened when it is not) and rendered; null for a
   * document that is not a notebook. */
  const notebookPanel = async (path: string | null): Promise<NotebookPanel | null> => {
    if (!path) {
      return null;
    }
    let panel = panelFor(path);
    if (!panel) {
      const opened = docManager.openOrReveal(path);
      panel = opened instanceof NotebookPanel ? opened : null;
    }
    if (panel) {
      await panel.context.ready;
      await panel.revealed;
    }
    return panel;
  };

  const jumpToCell = async (
    target: { cell_index?: number | null; cell_id?: string | null },
    step?: string | null
  ) => {
    const panel = await notebookPanel(step ? notebookOfStep(step) : model.path);
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

  // A step of another notebook of a pipeline file opens that notebook at the step.
  const jumpToStep = (step: string) => {
    const pipeline = model.pipeline?.pipeline;
    const first = pipeline ? stepFirstCell(pipeline, step) : null;
    if (first) {
      void jumpToCell(first, step);
    }
  };

  // One main-area tab per notebook (or pipeline file); opening it again brings it forward.
  const openPipeline = () => {
    const path = model.target;
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
    jumpToCell: (target, step) => void jumpToCell(target, step),
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
      const panel = await notebookPanel(notebookOfStep(step.step));
      return panel
        ? loadInputsIntoKernel(panel, model.pipeline?.pipeline ?? null, step)
        : false;
    },
    debug: async step => {
      const panel = await notebookPanel(notebookOfStep(step.step));
      if (!panel) {
        return;
      }
      const loaded = await loadInputsIntoKernel(panel, model.pipeline?.pipeline ?? null, step);
      if (loaded && step.error) {
        await jumpToCell(step.error, step.step);
      }
    },
    openExecuted: step => {
      const how = howToOpen(model.server, step);
      if (how === 'viewer' && viewers && model.target) {
        void viewers.open({ path: model.target, runId: step.run_id, step: step.step });
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
    // In a pipeline file's pipeline, the badges of this notebook's own steps.
    const part =
      pipeline && model.target && model.path
        ? notebookOf(pipeline, model.target, model.path)
        : null;
    badged = panel ? { panel, badges: pipeline ? cellBadges(pipeline, part) : null } : null;
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
  // A saved notebook is read again when it is the one followed, or one of the pipeline
  // file's shown.
  const shows = (path: string) =>
    path === model.path ||
    path === model.target ||
    (!!model.target && notebookOf(model.pipeline?.pipeline, model.target, path) !== null);
  tracker.widgetAdded.connect((_, panel) => {
    panel.context.fileChanged.connect(() => {
      if (shows(panel.context.path)) {
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

  // Pipeline files (liminal.yml) open in the file editor: the panel follows them as it
  // follows notebooks, through the shell's current widget and its document context, and
  // reads them again when they are saved. Other YAML files are left alone.
  const watched = new WeakSet<object>();
  const followWidget = (widget: Widget | null) => {
    if (!widget) {
      return;
    }
    if (widget instanceof NotebookPanel) {
      if (tracker.has(widget)) {
        follow(widget);
      }
      return;
    }
    const context = docManager.contextForWidget(widget);
    if (!context || !isYamlPath(context.path) || isRunArtifact(context.path)) {
      return;
    }
    if (!watched.has(context)) {
      watched.add(context);
      context.fileChanged.connect(() => {
        if (shows(context.path)) {
          void model.refresh();
        }
      });
    }
    void context.ready.then(() => {
      const text = context.model.toString();
      if (isPipelineFile(context.path, text) && app.shell.currentWidget === widget) {
        void model.setNotebook(context.path);
      }
    });
  };
  app.shell.currentChanged?.connect((_, change) => followWidget(change.newValue));
  followWidget(app.shell.currentWidget);

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
