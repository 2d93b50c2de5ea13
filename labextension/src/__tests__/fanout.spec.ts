import {
  dagStates,
  elementIndex,
  elementsAfterTheirStep,
  errorText,
  fanOut,
  fanOutText
} from '../runstate';
import { IRun } from '../types';
import { stepRecord } from './records';

const record = stepRecord;

const RUN = { run_id: 'r1', backend: 'local', status: 'running' } as IRun;

/** wine_depths_foreach.ipynb's shape: load, then train for each max_depth, then pick. */
const PIPELINE = {
  steps: [
    { name: 'load', foreach: null },
    { name: 'train', foreach: 'max_depth' },
    { name: 'pick', foreach: null }
  ] as never[],
  order: ['load', 'train', 'pick']
};

describe('fan-out elements in a run', () => {
  it('knows an element by its step and index, not a qualified step name', () => {
    expect(elementIndex('train', 'train.3')).toBe(3);
    expect(elementIndex('train', 'train.x')).toBeNull();
    expect(elementIndex('train', 'train')).toBeNull();
    expect(elementIndex('features', 'features.clean')).toBeNull();
    expect(elementIndex('train', 'trainer.1')).toBeNull();
  });

  it('draws the planned steps, not stale, while elements are recorded after them', () => {
    const shown = dagStates(PIPELINE, {
      run: RUN,
      steps: [
        record('load'),
        record('train', 'running'),
        record('pick', 'waiting'),
        record('train.0'),
        record('train.1', 'running'),
        record('train.2', 'waiting')
      ]
    });
    expect(shown.stale).toBe(false);
    expect(Array.from(shown.states.keys())).toEqual(['load', 'train', 'pick']);
    const fan = shown.fanouts.get('train');
    expect(fan).toMatchObject({ over: 'max_depth', total: 3, done: 1, running: 1, failed: 0 });
    expect(shown.states.get('train')?.status).toBe('running');
    expect(fanOutText(fan!)).toBe('1/3 done · 1 running');
  });

  it('is failed when any element failed, even while others run', () => {
    const fan = fanOut('d', record('train', 'running'), [
      record('train.0', 'failed'),
      record('train.1', 'running'),
      record('train.2')
    ]);
    expect(fan.status).toBe('failed');
    expect(fanOutText(fan)).toBe('1/3 done · 1 failed · 1 running');
  });

  it('is green when every element succeeded or was cached', () => {
    const elements = [record('train.0', 'cached'), record('train.1')];
    expect(fanOut('d', record('train', 'running'), elements).status).toBe('succeeded');
    expect(fanOut('d', record('train'), elements).status).toBe('succeeded');
    const cached = [record('train.0', 'cached'), record('train.1', 'cached')];
    expect(fanOut('d', record('train', 'cached'), cached).status).toBe('cached');
  });

  it('keeps the step state before its elements are known, and its own failure', () => {
    expect(fanOut('d', record('train', 'running'), []).status).toBe('running');
    expect(fanOut('d', record('train', 'waiting'), []).status).toBe('waiting');
    expect(fanOut('d', undefined, []).status).toBe('waiting');
    // Not a list: the step failed before any element was recorded.
    expect(fanOut('d', record('train', 'failed'), []).status).toBe('failed');
    expect(fanOutText(fanOut('d', undefined, []))).toBe('');
  });

  it('lists each element right after its step, by index', () => {
    const listed = elementsAfterTheirStep(PIPELINE.steps, [
      record('load'),
      record('train'),
      record('pick'),
      record('train.10'),
      record('train.2'),
      record('train.0')
    ]).map(r => r.step);
    expect(listed).toEqual(['load', 'train', 'train.0', 'train.2', 'train.10', 'pick']);
  });
});

describe('errors in the step detail', () => {
  it('names the element that failed', () => {
    expect(
      errorText({
        ename: 'ValueError',
        evalue: 'depth too small',
        element: { name: 'max_depth', index: 2, value: '5' }
      })
    ).toBe('element 2 of max_depth (5): ValueError: depth too small');
    // Failed before the element was bound: its index only.
    expect(
      errorText({ ename: 'KeyError', evalue: 'x', element: { name: 'd', index: 0, value: '?' } })
    ).toBe('element 0 of d: KeyError: x');
  });

  it('reads as before for a plain step', () => {
    expect(errorText({ ename: 'ValueError', evalue: 'bad' })).toBe('ValueError: bad');
    expect(errorText({ message: 'killed' })).toBe('killed');
  });
});
