/** Step records (GET /liminal/runs/ID `steps`) for the specs: a finished step of run r1. */

import { IStepRun } from '../types';

export function stepRecord(
  step: string,
  status = 'succeeded',
  extra: Partial<IStepRun> = {}
): IStepRun {
  return {
    run_id: 'r1',
    step,
    status,
    started: 1,
    ended: 2,
    attempt: 0,
    cached_from_run: null,
    metrics: {},
    error: null,
    executed_notebook: null,
    duration: 1,
    log_tail: '',
    executed_notebook_path: null,
    ...extra
  };
}
