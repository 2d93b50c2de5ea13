import { canReport, runReportTitle, runReportUrl } from '../runReport';

const BASE = 'http://127.0.0.1:8888/user/ana/';

describe('the run report route', () => {
  it('names the run as a path segment and the notebook in the query', () => {
    expect(runReportUrl(BASE, '20261126-153117-2de9', 'dir/my nb.ipynb')).toBe(
      `${BASE}liminal/runs/20261126-153117-2de9/report?path=dir%2Fmy%20nb.ipynb`
    );
  });

  it('encodes a slash in a run id so it cannot climb folders', () => {
    expect(runReportUrl(BASE, '../x', 'a.ipynb')).toBe(
      `${BASE}liminal/runs/..%2Fx/report?path=a.ipynb`
    );
  });
});

describe('the report action', () => {
  it('is offered for ended local runs, not running ones nor cluster runs', () => {
    expect(canReport({ status: 'failed', backend: 'local' })).toBe(true);
    expect(canReport({ status: 'succeeded', backend: 'kfp-local' })).toBe(true);
    expect(canReport({ status: 'running', backend: 'local' })).toBe(false);
    expect(canReport({ status: 'succeeded', backend: 'kfp' })).toBe(false);
  });

  it('titles its tab with the pipeline and the run without its date', () => {
    expect(
      runReportTitle({ run_id: '20261126-153117-2de9', pipeline_name: 'iris' })
    ).toBe('Report: iris 153117-2de9');
  });
});
