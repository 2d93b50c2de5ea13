/**
 * The step badge on each code cell: a small coloured label added to the cell's DOM node
 * from the IR's cell lists. It is view only: nothing is written to the notebook model,
 * so showing badges never marks a notebook modified.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { badgeFor, ICellBadges } from './cells';

const BADGE_CLASS = 'liminal-CellBadge';
const HAS_BADGE_CLASS = 'liminal-hasBadge';

/** Puts, updates or removes the badge of one cell (at `index` in its notebook). */
export function applyCellBadge(
  cell: Cell,
  index: number,
  badges: ICellBadges | null
): void {
  const node = cell.node;
  let element = node.querySelector(`:scope > .${BADGE_CLASS}`) as HTMLElement | null;
  const badge =
    badges && cell.model.type === 'code'
      ? badgeFor(badges, index, cell.model.id ?? null)
      : null;
  if (!badge) {
    element?.remove();
    node.classList.remove(HAS_BADGE_CLASS);
    node.style.removeProperty('--liminal-badge-colour');
    return;
  }
  if (!element) {
    element = document.createElement('div');
    element.className = BADGE_CLASS;
    node.appendChild(element);
  }
  element.textContent = badge.text;
  element.title = badge.title;
  element.dataset.step = badge.step ?? '';
  node.classList.add(HAS_BADGE_CLASS);
  node.style.setProperty('--liminal-badge-colour', badge.colour);
}

/** Badges every cell of `panel` (null: removes them all). */
export function applyBadges(panel: NotebookPanel, badges: ICellBadges | null): void {
  panel.content.widgets.forEach((cell, index) => applyCellBadge(cell, index, badges));
}
