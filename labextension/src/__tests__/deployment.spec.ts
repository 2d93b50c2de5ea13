import {
  contentsUrl,
  dataFiles,
  driftView,
  folderOf,
  IMonitorResult,
  IRegisteredModel,
  IServedModel,
  modelTarget,
  monitorBody,
  parsePort,
  reportUrl,
  serveBody,
  servedFor,
  servedUrl,
  serveUrl,
  validationLabel
} from '../deployment';

const BASE = 'http://127.0.0.1:8888/user/ana/';

const MODEL: IRegisteredModel = {
  name: 'iris-classification',
  version: '3',
  uri: 'models:/iris-classification/3',
  step: 'train',
  variable: 'clf',
  aliases: ['champion'],
  validation: 'passed',
  tracking_uri: 'http://127.0.0.1:5000'
};

function served(name: string, version: string, id = 'ab12'): IServedModel {
  return {
    id,
    name,
    version,
    uri: `models:/${name}/${version}`,
    tracking_uri: 'http://m',
    port: 5001,
    url: 'http://127.0.0.1:5001',
    invocations_url: 'http://127.0.0.1:5001/invocations',
    pid: 42,
    started: 0
  };
}

describe('model routes', () => {
  it('lives under liminal/models/', () => {
    expect(serveUrl(BASE)).toBe(`${BASE}liminal/models/serve`);
    expect(servedUrl(BASE)).toBe(`${BASE}liminal/models/served`);
    expect(servedUrl(BASE, 'ab/12')).toBe(`${BASE}liminal/models/served/ab%2F12`);
  });

  it('names the report by its path in the query', () => {
    expect(reportUrl(BASE, 'data/.liminal/reports/drift x.html')).toBe(
      `${BASE}liminal/models/report?path=data%2F.liminal%2Freports%2Fdrift%20x.html`
    );
  });

  it('lists a folder through the contents API, each segment encoded', () => {
    expect(contentsUrl(BASE, '')).toBe(`${BASE}api/contents/?content=1`);
    expect(contentsUrl(BASE, 'my dir/a#b')).toBe(`${BASE}api/contents/my%20dir/a%23b?content=1`);
  });
});

describe('the port field', () => {
  it('is optional: empty asks for a free port', () => {
    expect(parsePort('  ')).toEqual({ port: null, error: null });
  });

  it('takes a whole number in the unprivileged range', () => {
    expect(parsePort(' 5005 ')).toEqual({ port: 5005, error: null });
    expect(parsePort('80').error).toMatch(/1024 to 65535/);
    expect(parsePort('70000').error).toMatch(/1024 to 65535/);
    expect(parsePort('50.5').error).toMatch(/whole number/);
    expect(parsePort('abc').port).toBeNull();
  });
});

describe('request bodies', () => {
  it('serves the exact version, from the tracking store the run recorded', () => {
    const target = modelTarget(MODEL, 'work/iris.ipynb', 'http://setting:5000');
    expect(serveBody(target, null)).toEqual({
      name: 'iris-classification',
      version: '3',
      tracking_uri: 'http://127.0.0.1:5000',
      path: 'work/iris.ipynb',
      port: null
    });
  });

  it('falls back to the panel setting, then to the server (null)', () => {
    const unrecorded = { ...MODEL, tracking_uri: null };
    expect(modelTarget(unrecorded, null, ' http://setting ').tracking_uri).toBe('http://setting');
    expect(modelTarget(unrecorded, null, '').tracking_uri).toBeNull();
  });

  it('sends the monitored file as typed, trimmed', () => {
    const target = modelTarget(MODEL, 'iris.ipynb', '');
    expect(monitorBody(target, ' data/new.csv ')).toMatchObject({
      name: 'iris-classification',
      version: '3',
      data: 'data/new.csv'
    });
  });
});

describe('served models', () => {
  it('finds the server of this name and version only', () => {
    const list = [served('iris-classification', '2', 'a'), served('iris-classification', '3', 'b')];
    expect(servedFor(list, MODEL)?.id).toBe('b');
    expect(servedFor(list, { ...MODEL, version: '4' })).toBeNull();
    expect(servedFor([], MODEL)).toBeNull();
  });
});

describe('data files for Monitor', () => {
  it('starts in the notebook folder', () => {
    expect(folderOf('a/b/iris.ipynb')).toBe('a/b');
    expect(folderOf('iris.ipynb')).toBe('');
    expect(folderOf(null)).toBe('');
  });

  it('offers data files only, sorted', () => {
    expect(
      dataFiles([
        { path: 'w/rows.csv', type: 'file' },
        { path: 'w/iris.ipynb', type: 'notebook' },
        { path: 'w/a.PARQUET', type: 'file' },
        { path: 'w/data.json', type: 'directory' },
        { path: 'w/b.jsonl', type: 'file' },
        { path: 'w/notes.txt', type: 'file' }
      ])
    ).toEqual(['w/a.PARQUET', 'w/b.jsonl', 'w/rows.csv']);
  });
});

function result(drifted: string[], psis: [string, number | null][]): IMonitorResult {
  return {
    model: 'iris-classification version 3',
    name: 'iris-classification',
    version: '3',
    threshold: 0.2,
    rows: 150,
    summary: '',
    drifted,
    features: psis.map(([feature, psi]) => ({ feature, kind: 'numeric', psi, missing: psi === null })),
    tracking_run_id: null,
    report: 'r.html',
    report_url: ''
  };
}

describe('the drift summary', () => {
  it('lists the features over the threshold, most drifted first', () => {
    const view = driftView(
      result(['petal_length', 'sepal_width'], [
        ['petal_length', 3.21],
        ['sepal_width', null],
        ['sepal_length', 0.01]
      ])
    );
    expect(view.headline).toBe('Drift in 2 of 3 features (threshold 0.2, 150 rows)');
    expect(view.drifted).toEqual([
      { feature: 'petal_length', psi: '3.210' },
      { feature: 'sepal_width', psi: 'missing' }
    ]);
  });

  it('says there is none, with the largest PSI', () => {
    const view = driftView(result([], [['a', 0.031], ['b', 0.002]]));
    expect(view.headline).toBe('No drift: largest PSI 0.031 ≤ 0.2 over 150 rows');
    expect(view.drifted).toEqual([]);
  });
});

describe('the version badge', () => {
  it('shows the alias the run set, or why it set none', () => {
    expect(validationLabel(MODEL).text).toBe('champion');
    const blocked = { ...MODEL, aliases: [], validation: 'accuracy = 0.5 is below its minimum 0.9' };
    expect(validationLabel(blocked)).toEqual({
      text: 'not promoted',
      title: 'accuracy = 0.5 is below its minimum 0.9'
    });
    expect(validationLabel({ ...MODEL, aliases: [], validation: null }).text).toBe('');
  });
});
