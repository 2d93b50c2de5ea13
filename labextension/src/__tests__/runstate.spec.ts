import { dagStates } from '../runstate';
import { IRun, IStepRun } from '../types';
import { stepRecord } from './records';

const step = (name: string, status = 'succeeded'): IStepRun => stepRecord(name, status);

function run(backend: string, extra: Partial<IRun> = {}): IRun {
  return {
    run_id: 'r1',
    notebook: 'nb.ipynb',
    pipeline_name: 'p',
    backend,
    status: 'succeeded',
    created: 0,
    started: 0,
    ended: 1000,
    parameters: {},
    host: null,
    remote_id: null,
    tracking_run_id: null,
    message: null,
    ...extra
  };
}

/** A pipeline whose steps are `names` in notebook order and `order` in run order. */
function pipeline(names: string[], order: string[] = names) {
  return { steps: names.map(name => ({ name }) as never), order };
}

function detail(backend: string, names: string[], statuses: string[] = []) {
  return { run: run(backend), steps: names.map((n, i) => step(n, statuses[i])) };
}

describe('step states on the DAG', () => {
  it('colours the steps of the pipeline the run ran', () => {
    const shown = dagStates(
      pipeline(['fetch', 'train']),
      detail('local', ['fetch', 'train'], ['succeeded', 'failed'])
    );
    expect(shown.stale).toBe(false);
    expect(shown.states.get('train')?.status).toBe('failed');
  });

  it('shows nothing, and says so, once a step was renamed or added', () => {
    const ran = detail('local', ['fetch', 'train']);
    for (const now of [['fetch', 'fit'], ['fetch', 'train', 'evaluate'], ['fetch']]) {
      const shown = dagStates(pipeline(now), ran);
      expect(shown.stale).toBe(true);
      expect(shown.states.size).toBe(0);
    }
  });

  it('never lends a colour to another step when two steps swap names', () => {
    // The run: a (cell 1) failed, b (cell 2) succeeded. Now cell 1 is b, cell 2 is a.
    const ran = detail('local', ['a', 'b'], ['failed', 'succeeded']);
    const shown = dagStates(pipeline(['b', 'a']), ran);
    expect(shown.states.get('b')).toBeUndefined();
    expect(shown.stale).toBe(true);
  });

  it('compares with run order, which every engine records, whatever its name', () => {
    const p = pipeline(['a', 'b', 'c'], ['b', 'a', 'c']);
    for (const engine of ['local', 'kfp-local', 'airflow', 'kfp', 'an-installed-engine']) {
      expect(dagStates(p, detail(engine, ['b', 'a', 'c'])).stale).toBe(false);
      expect(dagStates(p, detail(engine, ['a', 'b', 'c'])).stale).toBe(true);
    }
  });

  it('draws no states without a run, and an invalid pipeline (no order) gets none', () => {
    expect(dagStates(pipeline(['a']), null)).toEqual({
      states: new Map(),
      stale: false,
      fanouts: new Map()
    });
    expect(dagStates(pipeline(['a'], []), detail('local', ['a'])).stale).toBe(true);
  });
});
