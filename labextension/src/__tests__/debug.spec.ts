import {
  canDebug,
  canLoadInputs,
  existingNamesCode,
  inputNames,
  inputsMagic,
  overwriteQuestion,
  parseExistingNames
} from '../debug';
import { IPipeline, IStepRun } from '../types';
import { stepRecord } from './records';
import { startRunBody } from '../urls';

function stepRun(status: string, error: IStepRun['error'] = null): IStepRun {
  return stepRecord('add', status, { run_id: '20261204-181925-7993', error });
}

const PIPELINE = {
  steps: [
    {
      name: 'add',
      inputs: [
        { name: 'rows', kind: 'data', producer: 'load', statement: null },
        { name: 'divisor', kind: 'parameter', producer: null, statement: null },
        { name: 'np', kind: 'import', producer: 'load', statement: 'import numpy as np' }
      ]
    }
  ]
} as unknown as IPipeline;

describe('the magic the panel runs in the kernel', () => {
  it('names the step and the run, and nothing else', () => {
    expect(inputsMagic('add', '20261204-181925-7993')).toBe(
      '%load_ext liminal_jupyter\n%liminal inputs add --run 20261204-181925-7993'
    );
  });

  it('takes a step name qualified by its notebook (a pipeline file)', () => {
    expect(inputsMagic('features.clean', 'r1')).toBe(
      '%load_ext liminal_jupyter\n%liminal inputs features.clean --run r1'
    );
  });

  it('refuses anything that is not a step name and a run id', () => {
    expect(() => inputsMagic('add; import os', 'r1')).toThrow();
    expect(() => inputsMagic('features..clean', 'r1')).toThrow();
    expect(() => inputsMagic('add', 'r1 --notebook /etc/x')).toThrow();
  });
});

describe('asking before overwriting the kernel', () => {
  it('checks the data and parameter names the step reads, not its imports', () => {
    expect(inputNames(PIPELINE, 'add')).toEqual(['rows', 'divisor']);
    expect(inputNames(PIPELINE, 'nope')).toEqual([]);
    expect(existingNamesCode(['rows', 'bad name'])).toBe(
      "print(__import__('json').dumps([n for n in [\"rows\"] if n in get_ipython().user_ns]))"
    );
  });

  it('asks only when the kernel holds one of them', () => {
    expect(parseExistingNames('["rows"]\n')).toEqual(['rows']);
    expect(parseExistingNames('Traceback...')).toEqual([]);
    expect(overwriteQuestion('add', [])).toBeNull();
    expect(overwriteQuestion('add', ['rows', 'divisor'])).toBe(
      "The kernel already holds rows, divisor. Loading the inputs of step 'add' replaces them."
    );
  });
});

describe('which steps offer the buttons', () => {
  it('offers Debug on a step that failed in a cell, and loading on any that started', () => {
    expect(canDebug(stepRun('failed', { cell_index: 3, cell_id: 'c3' }))).toBe(true);
    expect(canDebug(stepRun('failed', { message: 'killed' }))).toBe(false);
    expect(canDebug(stepRun('succeeded'))).toBe(false);
    expect(canLoadInputs(stepRun('succeeded'))).toBe(true);
    expect(canLoadInputs(stepRun('skipped'))).toBe(false);
  });
});

describe('a partial run from the panel', () => {
  it('sends the step selection in the start-run body only when there is one', () => {
    const settings = {
      kfpHost: '',
      mlflowTrackingUri: '',
      defaultImage: '',
      maxParallelSteps: 0
    };
    expect(startRunBody('nb.ipynb', {}, settings, { steps: { from: 'add' } }).steps).toEqual({
      from: 'add'
    });
    expect('steps' in startRunBody('nb.ipynb', {}, settings, {})).toBe(false);
  });
});
