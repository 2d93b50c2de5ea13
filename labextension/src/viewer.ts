/**
 * A read-only viewer of an executed step notebook, in a main-area tab, for servers whose
 * contents API hides the `.liminal/` folder (no `ContentsManager.allow_hidden`).
 *
 * The notebook comes from the server extension as JSON; cells are drawn with JupyterLab's
 * own pieces: markdown and outputs through the app's rendermime registry, outputs in an
 * OutputArea (streams, images, HTML, errors with their traceback), code highlighted by
 * the editor language registry. Everything is rendered untrusted, as JupyterLab renders
 * a notebook the user did not trust: HTML is sanitized and no script or JavaScript
 * output runs. Nothing here talks to a kernel.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { notebookIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import {
  ICellView,
  INotebookView,
  notebookView,
  viewerId,
  viewerTitle
} from './executed';
import { describe } from './model';
import { LiminalApi } from './request';

/** Which executed notebook to show: the source notebook's path, the run, the step. */
export interface IExecutedRef {
  path: string;
  runId: string;
  step: string;
}

/** Opens viewer tabs, one per (notebook, run, step); a second open activates the tab. */
export class ExecutedNotebookViewers {
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _api: LiminalApi,
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _languages: IEditorLanguageRegistry | null
  ) {}

  async open(ref: IExecutedRef): Promise<MainAreaWidget<Panel>> {
    const id = viewerId(ref.path, ref.runId, ref.step);
    for (const widget of this._app.shell.widgets('main')) {
      if (widget.id === id) {
        this._app.shell.activateById(id);
        return widget as MainAreaWidget<Panel>;
      }
    }
    const content = new Panel();
    content.addClass('liminal-executed-viewer');
    content.node.dataset.run = ref.runId;
    content.node.dataset.step = ref.step;
    content.addWidget(textWidget('liminal-executed-loading', 'Loading the executed notebook…'));
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = viewerTitle(ref.step, ref.runId);
    widget.title.caption =
      `Executed notebook of step ${ref.step}, run ${ref.runId} (read-only)\n${ref.path}`;
    widget.title.icon = notebookIcon;
    widget.title.closable = true;
    this._app.shell.add(widget, 'main');
    this._app.shell.activateById(id);
    try {
      const notebook = await this._api.executedNotebook(ref.runId, ref.step, ref.path);
      this._fill(content, ref, notebookView(notebook));
    } catch (error) {
      clear(content);
      content.addWidget(
        textWidget(
          'liminal-executed-error',
          `The executed notebook of step ${ref.step} could not be read: ${describe(error)}`
        )
      );
    }
    return widget;
  }

  private _fill(content: Panel, ref: IExecutedRef, view: INotebookView): void {
    clear(content);
    content.addWidget(
      textWidget(
        'liminal-executed-header',
        `Read-only: the notebook step ${ref.step} ran in run ${ref.runId} ` +
          '(outputs shown untrusted; open it as a notebook by starting JupyterLab ' +
          'with --ContentsManager.allow_hidden=True).'
      )
    );
    for (const cell of view.cells) {
      content.addWidget(this._cell(cell, view.language));
    }
  }

  private _cell(cell: ICellView, language: string): Widget {
    const box = new Panel();
    box.addClass('liminal-executed-cell');
    box.addClass(`liminal-executed-${cell.kind}`);
    if (cell.status) {
      box.node.dataset.status = cell.status;
    }
    if (cell.kind === 'markdown') {
      box.addWidget(this._markdown(cell.source));
      return box;
    }
    const input = new Widget();
    input.addClass('liminal-executed-input');
    const prompt = document.createElement('div');
    prompt.className = 'liminal-executed-prompt';
    prompt.textContent = cell.prompt;
    const code = document.createElement('pre');
    code.className = 'liminal-executed-source cm-s-jupyter';
    code.textContent = cell.source;
    input.node.append(prompt, code);
    box.addWidget(input);
    if (cell.kind === 'code') {
      this._highlight(code, cell.source, language);
      if (cell.outputs.length) {
        const model = new OutputAreaModel({
          values: cell.outputs as unknown as nbformat.IOutput[],
          trusted: false
        });
        const outputs = new OutputArea({ model, rendermime: this._rendermime });
        outputs.addClass('liminal-executed-outputs');
        outputs.disposed.connect(() => model.dispose());
        box.addWidget(outputs);
      }
    }
    return box;
  }

  private _markdown(source: string): Widget {
    const mime = 'text/markdown';
    const renderer = this._rendermime.createRenderer(mime);
    renderer.addClass('liminal-executed-markdown');
    void renderer.renderModel(new MimeModel({ data: { [mime]: source }, trusted: false }));
    return renderer;
  }

  /** Syntax colours when the language registry is there; plain text otherwise. */
  private _highlight(element: HTMLElement, source: string, language: string): void {
    const languages = this._languages;
    if (!languages) {
      return;
    }
    const found = languages.findBest(language);
    if (!found) {
      return;
    }
    // Highlighted aside, then swapped in: a language that fails to load keeps the text.
    const highlighted = document.createElement('code');
    languages
      .highlight(source, found, highlighted)
      .then(() => element.replaceChildren(highlighted))
      .catch(() => undefined);
  }
}

function textWidget(className: string, text: string): Widget {
  const widget = new Widget();
  widget.addClass(className);
  widget.node.textContent = text;
  return widget;
}

function clear(panel: Panel): void {
  for (const child of [...panel.widgets]) {
    child.dispose();
  }
}
