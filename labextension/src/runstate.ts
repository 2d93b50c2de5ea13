/**
 * Which run's step states the DAG may show: only those of a run of the pipeline the DAG
 * draws, so a state never lands on a step that did not run under that name.
 */

import { IPipeline, IRunDetail, IStep, IStepError, IStepRun } from './types';

/** The step states to draw on the DAG, and whether the run shown ran another version. */
export interface IDagStates {
  /** By step name; a fan-out step's record carries its aggregate state (fanOut). */
  states: Map<string, IStepRun>;
  /** The run shown has states, but for a different set or order of steps. */
  stale: boolean;
  /** The element counts of the run's fan-out steps, by step name. */
  fanouts: Map<string, IFanOut>;
}

/** How far the elements of a fan-out step (`foreach:NAME`) are in one run. */
export interface IFanOut {
  /** NAME, the list it runs over. */
  over: string;
  /** Elements known so far (recorded once the step starts and reads its list). */
  total: number;
  /** Succeeded or cached. */
  done: number;
  failed: number;
  running: number;
  /** The element records, by index. */
  elements: IStepRun[];
  /** The step's state drawn: failed if any element failed, running while any runs,
   * succeeded (or cached) when all are done; else the step's own record's. */
  status: string;
}

type FanOutSteps = Pick<IStep, 'name' | 'foreach'>;

/** The index of `record` when it is an element of `step` (`STEP.I`), else null. */
export function elementIndex(step: string, record: string): number | null {
  const prefix = `${step}.`;
  if (!record.startsWith(prefix)) {
    return null;
  }
  const rest = record.slice(prefix.length);
  return /^[0-9]+$/.test(rest) ? Number(rest) : null;
}

/** Which records of a run are elements of the pipeline's fan-out steps: element name ->
 * [step, index]. */
export function elementsOf(
  steps: FanOutSteps[],
  records: Pick<IStepRun, 'step'>[]
): Map<string, [string, number]> {
  const fanning = steps.filter(s => !!s.foreach).map(s => s.name);
  const found = new Map<string, [string, number]>();
  for (const record of records) {
    for (const step of fanning) {
      const index = elementIndex(step, record.step);
      if (index !== null) {
        found.set(record.step, [step, index]);
        break;
      }
    }
  }
  return found;
}

/** The element records of fan-out step `step` in element order (`elements`: elementsOf). */
function elementRecords<T extends Pick<IStepRun, 'step'>>(
  step: string,
  records: T[],
  elements: Map<string, [string, number]>
): T[] {
  return records
    .filter(r => elements.get(r.step)?.[0] === step)
    .sort((a, b) => (elements.get(a.step)?.[1] ?? 0) - (elements.get(b.step)?.[1] ?? 0));
}

/** The aggregate of a fan-out step's elements (see IFanOut.status). */
export function fanOut(over: string, own: IStepRun | undefined, elements: IStepRun[]): IFanOut {
  const count = (...states: string[]) => elements.filter(e => states.includes(e.status)).length;
  const done = count('succeeded', 'cached');
  const failed = count('failed');
  const running = count('running');
  let status = own?.status ?? 'waiting';
  if (failed > 0) {
    status = 'failed';
  } else if (running > 0 || (status === 'running' && done < elements.length)) {
    status = 'running';
  } else if (elements.length > 0 && done === elements.length && status !== 'interrupted') {
    status = count('cached') === elements.length ? 'cached' : 'succeeded';
  }
  return { over, total: elements.length, done, failed, running, elements, status };
}

/** `2/4 done · 1 failed`: a fan-out's progress in words ('' before it has elements). */
export function fanOutText(fan: IFanOut): string {
  if (!fan.total) {
    return '';
  }
  const parts = [`${fan.done}/${fan.total} done`];
  if (fan.failed) {
    parts.push(`${fan.failed} failed`);
  }
  if (fan.running) {
    parts.push(`${fan.running} running`);
  }
  return parts.join(' · ');
}

/**
 * A run's step records in the order to list them: each fan-out step's elements right
 * after it, by index (the ledger records them once the step starts, so after all steps).
 */
export function elementsAfterTheirStep<T extends Pick<IStepRun, 'step'>>(
  steps: FanOutSteps[],
  records: T[]
): T[] {
  const elements = elementsOf(steps, records);
  const plain = records.filter(r => !elements.has(r.step));
  const result: T[] = [];
  for (const record of plain) {
    result.push(record, ...elementRecords(record.step, records, elements));
  }
  return result;
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
    return { states: new Map(), stale: false, fanouts: new Map() };
  }
  // The elements of fan-out steps (`train.0`, ...) are recorded besides the planned steps.
  const elements = elementsOf(pipeline.steps, detail.steps);
  const planned = detail.steps.filter(s => !elements.has(s.step));
  if (!sameList(pipeline.order ?? [], planned.map(s => s.step))) {
    return { states: new Map(), stale: true, fanouts: new Map() };
  }
  const states = new Map(planned.map(s => [s.step, s]));
  const fanouts = new Map<string, IFanOut>();
  for (const step of pipeline.steps) {
    if (!step.foreach) {
      continue;
    }
    const mine = elementRecords(step.name, detail.steps, elements);
    const own = states.get(step.name);
    const fan = fanOut(step.foreach, own, mine);
    fanouts.set(step.name, fan);
    if (own) {
      states.set(step.name, { ...own, status: fan.status });
    }
  }
  return { states, stale: false, fanouts };
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/**
 * A recorded error in one line: `element 2 of max_depth (5): ValueError: ...` for an
 * element of a fan-out step (the ledger records which one failed), else the exception.
 */
export function errorText(error: IStepError): string {
  const what = error.ename
    ? `${error.ename}: ${error.evalue ?? ''}`
    : error.evalue ?? error.message ?? '';
  const element = error.element;
  if (!element || element.index === undefined || element.index === null) {
    return what;
  }
  const value = element.value && element.value !== '?' ? ` (${element.value})` : '';
  return `element ${element.index} of ${element.name ?? 'its list'}${value}: ${what}`;
}
