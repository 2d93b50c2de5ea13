/**
 * Which run's step states the DAG may show: only those of a run of the pipeline the DAG
 * draws, so a state never lands on a step that did not run under that name.
 */

import { IPipeline, IRunDetail, IStepRun } from './types';

/** The step states to draw on the DAG, and whether the run shown ran another version. */
export interface IDagStates {
  states: Map<string, IStepRun>;
  /** The run shown has states, but for a different set or order of steps. */
  stale: boolean;
}

/**
 * The run's step states keyed by step name, or none when the run ran a different
 * version of the pipeline (steps renamed, added, removed or reordered since).
 *
 * Every engine records a run's steps in the order it planned them, the pipeline's run
 * order (`pipeline.order`). The states are drawn only when that list equals the current
 * pipeline's: then every name sits on the same step (the same position among the cells)
 * it had when the run started, and a renamed step can never lend its colour to another
 * (two steps swapping names change the list).
 */
export function dagStates(
  pipeline: Pick<IPipeline, 'steps' | 'order'>,
  detail: Pick<IRunDetail, 'run' | 'steps'> | null
): IDagStates {
  if (!detail || !detail.steps.length) {
    return { states: new Map(), stale: false };
  }
  const ran = detail.steps.map(s => s.step);
  if (!sameList(pipeline.order ?? [], ran)) {
    return { states: new Map(), stale: true };
  }
  return { states: new Map(detail.steps.map(s => [s.step, s])), stale: false };
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
