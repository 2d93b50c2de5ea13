/**
 * A drift report in a JupyterLab main-area tab. The report is HTML the server wrote from
 * the user's data; it is shown in an iframe sandboxed with no permissions at all (no
 * script, an opaque origin), so nothing in it can act in the Lab page or reach its server.
 */

import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { liminalIcon } from './icons';

export function reportWidget(title: string, html: string): MainAreaWidget<Widget> {
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', '');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.className = 'liminal-report-frame';
  frame.srcdoc = html;
  const node = document.createElement('div');
  node.className = 'liminal-report';
  node.appendChild(frame);
  const content = new Widget({ node });
  const widget = new MainAreaWidget({ content });
  widget.id = `liminal-report-${Date.now()}`;
  widget.title.label = title;
  widget.title.icon = liminalIcon;
  widget.title.closable = true;
  return widget;
}
