/**
 * "Load inputs into kernel" and "Debug" on a step of a run: what to run in the notebook's
 * own kernel, and what to ask first. The kernel does the loading (`%liminal inputs`,
 * liminal_jupyter/magics.py): the panel sends it a step name and a run id, checked to be
 * names, never values or paths pasted into code.
 */

import { IPipeline, IStepRun } from './types';

// Dotted parts: a pipeline file qualifies clashing step names by notebook
// (features.clean), a fan-out step's elements are STEP.I (train.0).
const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const RUN_ID = /^[A-Za-z0-9_.:+-]+$/;
const PY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The cell source that loads `step`'s inputs of run `runId` into the kernel. */
export function inputsMagic(step: string, runId: string): string {
  if (!STEP_NAME.test(step) || !RUN_ID.test(runId)) {
    throw new Error(`not a step name and run id: ${step} ${runId}`);
  }
  return `%load_ext liminal_jupyter\n%liminal inputs ${step} --run ${runId}`;
}

/** The names the step reads from outside itself (data and parameters): what loading its
 * inputs would set in the kernel. */
export function inputNames(pipeline: IPipeline | null, step: string): string[] {
  const found = pipeline?.steps.find(s => s.name === step);
  return (found?.inputs ?? [])
    .filter(i => i.kind === 'data' || i.kind === 'parameter')
    .map(i => i.name)
    .filter(name => PY_NAME.test(name));
}

/** Code that prints, as JSON, which of `names` the kernel already holds. */
export function existingNamesCode(names: string[]): string {
  const safe = names.filter(name => PY_NAME.test(name));
  return (
    `print(__import__('json').dumps([n for n in ${JSON.stringify(safe)} ` +
    'if n in get_ipython().user_ns]))'
  );
}

/** The names `existingNamesCode` printed; [] when the output is not what it prints. */
export function parseExistingNames(printed: string): string[] {
  const last = printed.trim().split('\n').pop() ?? '';
  try {
    const value = JSON.parse(last) as unknown;
    return Array.isArray(value) ? value.filter(v => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** The question to ask before overwriting, or null when nothing would be overwritten. */
export function overwriteQuestion(step: string, existing: string[]): string | null {
  if (existing.length === 0) {
    return null;
  }
  return (
    `The kernel already holds ${existing.join(', ')}. Loading the inputs of step ` +
    `'${step}' replaces ${existing.length === 1 ? 'it' : 'them'}.`
  );
}

/** Whether a step's row offers "Debug": it failed in a cell of the notebook. */
export function canDebug(step: IStepRun): boolean {
  return (
    step.status === 'failed' &&
    !!step.error &&
    ((step.error.cell_index !== undefined && step.error.cell_index !== null) ||
      !!step.error.cell_id)
  );
}

/** Whether a step's inputs exist in that run: it started (so it read them). */
export function canLoadInputs(step: IStepRun): boolean {
  return !['waiting', 'skipped'].includes(step.status);
}
