/**
 * Which run states the panel may show where: a run's step states belong on the DAG only
 * when the run ran the pipeline the DAG draws, and a run that just ended is read again
 * until MLflow's run id (and so the MLflow link) has been recorded.
 */

import { isRunActive } from './status';
import { IPipeline, IRun, IRunDetail, IStepRun } from './types';

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
 * A run records its steps in the order its backend planned them: run order
 * (`pipeline.order`) for local, kfp-local and airflow runs, notebook order for runs
 * submitted to KFP. The states are drawn only when that list equals the current
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
  const inNotebook = pipeline.steps.map(s => s.name);
  const inRunOrder = pipeline.order ?? [];
  const candidates = plannedOrders(detail.run.backend, inNotebook, inRunOrder);
  if (!candidates.some(names => sameList(names, ran))) {
    return { states: new Map(), stale: true };
  }
  return { states: new Map(detail.steps.map(s => [s.step, s])), stale: false };
}

function plannedOrders(backend: string, inNotebook: string[], inRunOrder: string[]) {
  switch (backend) {
    case 'kfp':
      return [inNotebook];
    case 'local':
    case 'kfp-local':
    case 'airflow':
      return [inRunOrder];
    default:
      return [inRunOrder, inNotebook];
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** Reads of a finished run, a few seconds apart, waiting for its MLflow run id. */
export const FINAL_REREADS = 5;
/** A run that ended longer ago than this (seconds) is not waited for. */
export const FRESH_END_S = 120;

/**
 * Whether to read a run once more after it ended: the runner records the run's end a
 * moment before MLflow's run id, so the MLflow link shows only on a later read. True
 * while the id is missing, for at most FINAL_REREADS reads, for a run this panel saw
 * running or that ended within FRESH_END_S (a run first seen already finished, e.g. one
 * whose steps all came from the cache). A run that was never tracked stops after those
 * few reads.
 */
export function shouldReadAgain(
  run: Pick<IRun, 'status' | 'ended' | 'tracking_run_id'>,
  seenRunning: boolean,
  rereadsDone: number,
  nowS: number
): boolean {
  if (isRunActive(run.status) || run.tracking_run_id || rereadsDone >= FINAL_REREADS) {
    return false;
  }
  const fresh = run.ended !== null && nowS - run.ended <= FRESH_END_S;
  return seenRunning || fresh;
}
