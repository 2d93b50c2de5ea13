/**
 * Which cell belongs to what, from the IR: the badge each code cell shows in the
 * notebook, and where a diagnostic or a step points. Cells are matched by nbformat id
 * first (it survives cells being added above since the last save), else by index.
 */

import { phaseColour, NEUTRAL_COLOUR } from './status';
import { IPipeline } from './types';

export interface ICellBadge {
  /** Short text shown on the cell: the step name, or the cell's role. */
  text: string;
  /** Longer text for the tooltip. */
  title: string;
  colour: string;
  step: string | null;
}

export interface ICellBadges {
  byId: Map<string, ICellBadge>;
  byIndex: Map<number, ICellBadge>;
}

/**
 * Badges for every cell the pipeline uses: steps, prelude, parameters, metrics. In a
 * pipeline file's pipeline, those of one of its notebooks (`notebook`, as the IR names
 * it): cell indices are per notebook.
 */
export function cellBadges(pipeline: IPipeline, notebook: string | null = null): ICellBadges {
  const byId = new Map<string, ICellBadge>();
  const byIndex = new Map<number, ICellBadge>();
  const put = (index: number, id: string | null, badge: ICellBadge) => {
    byIndex.set(index, badge);
    if (id) {
      byId.set(id, badge);
    }
  };
  const parts = pipeline.notebooks ?? [];
  const part = parts.length ? parts.find(p => p.path === notebook) : null;
  const prelude = parts.length ? part?.prelude ?? [] : pipeline.prelude;
  const parameterCells = parts.length ? part?.parameter_cells ?? [] : pipeline.parameter_cells;
  const steps = parts.length
    ? pipeline.steps.filter(s => !!part && s.notebook === part.path)
    : pipeline.steps;
  for (const cell of prelude) {
    put(cell.index, cell.id, {
      text: 'prelude',
      title: 'imports/functions: run before every step',
      colour: NEUTRAL_COLOUR,
      step: null
    });
  }
  for (const cell of parameterCells) {
    put(cell.index, cell.id, {
      text: 'parameters',
      title: 'pipeline parameters',
      colour: NEUTRAL_COLOUR,
      step: null
    });
  }
  for (const step of steps) {
    const phase = step.phase ? ` (phase ${step.phase})` : '';
    for (const cell of step.cells) {
      put(cell.index, cell.id, {
        text: step.name,
        title: `step ${step.name}${phase}`,
        colour: phaseColour(step.phase),
        step: step.name
      });
    }
    for (const metric of step.metrics) {
      if (metric.cell_index !== null && !byIndex.has(metric.cell_index)) {
        put(metric.cell_index, metric.cell_id, {
          text: 'metrics',
          title: `metrics logged by step ${step.name}`,
          colour: NEUTRAL_COLOUR,
          step: step.name
        });
      }
    }
  }
  return { byId, byIndex };
}

/**
 * The badge of the cell at `index` with id `id`. Once ids are known, a cell with an id
 * the IR does not list (new since the save) gets none rather than its neighbour's.
 */
export function badgeFor(
  badges: ICellBadges,
  index: number,
  id: string | null
): ICellBadge | null {
  if (id && badges.byId.size > 0) {
    return badges.byId.get(id) ?? null;
  }
  return badges.byIndex.get(index) ?? null;
}

/**
 * The index of the cell a diagnostic names among the notebook's current cells (their ids
 * in order): by id when the id is there, else the saved index when it is in range, else -1.
 */
export function locateCell(
  cellIds: readonly (string | null)[],
  target: { cell_id?: string | null; cell_index?: number | null }
): number {
  if (target.cell_id) {
    const i = cellIds.indexOf(target.cell_id);
    if (i >= 0) {
      return i;
    }
  }
  const index = target.cell_index;
  if (index !== null && index !== undefined && index >= 0 && index < cellIds.length) {
    return index;
  }
  return -1;
}

/** Where a step starts: its first cell. */
export function stepFirstCell(
  pipeline: IPipeline,
  step: string
): { cell_index: number; cell_id: string | null } | null {
  const found = pipeline.steps.find(s => s.name === step);
  const first = found?.cells[0];
  return first ? { cell_index: first.index, cell_id: first.id } : null;
}
