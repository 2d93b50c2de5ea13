import {
  apiUrl,
  attachmentFilename,
  compileBody,
  pipelineUrl,
  runsUrl,
  runUrl,
  startRunBody,
  submitBody
} from '../urls';
import { DEFAULT_SETTINGS } from '../types';

const BASE = 'http://127.0.0.1:8888/user/ana/';

describe('request URLs', () => {
  it('puts every route under liminal/ of the base URL', () => {
    expect(apiUrl(BASE, ['status'])).toBe('http://127.0.0.1:8888/user/ana/liminal/status');
    expect(apiUrl('http://h/base', ['status'])).toBe('http://h/base/liminal/status');
  });

  it('percent-encodes notebook paths in the query', () => {
    expect(pipelineUrl(BASE, 'my dir/a&b #1.ipynb')).toBe(
      `${BASE}liminal/pipeline?path=my%20dir%2Fa%26b%20%231.ipynb`
    );
    expect(pipelineUrl(BASE, 'données/é.ipynb')).toBe(
      `${BASE}liminal/pipeline?path=donn%C3%A9es%2F%C3%A9.ipynb`
    );
  });

  it('encodes a run id as one path segment and leaves unset values out', () => {
    expect(runUrl(BASE, '20261126-1/x', 'a.ipynb')).toBe(
      `${BASE}liminal/runs/20261126-1%2Fx?path=a.ipynb`
    );
    expect(runUrl(BASE, 'r1', 'a.ipynb', ' http://mlflow:5000 ')).toBe(
      `${BASE}liminal/runs/r1?path=a.ipynb&tracking_uri=http%3A%2F%2Fmlflow%3A5000`
    );
    expect(runsUrl(BASE, 'a.ipynb')).toBe(`${BASE}liminal/runs?path=a.ipynb`);
    expect(runsUrl(BASE, 'a.ipynb', 5)).toBe(`${BASE}liminal/runs?path=a.ipynb&limit=5`);
  });
});

describe('request bodies', () => {
  it('starts a run with the overrides and the server defaults for empty settings', () => {
    expect(startRunBody('a.ipynb', { n: 3 }, DEFAULT_SETTINGS)).toEqual({
      path: 'a.ipynb',
      backend: 'local',
      parameters: { n: 3 },
      use_cache: true,
      jobs: null,
      tracking_uri: null
    });
  });

  it('sends the settings when they are set', () => {
    const settings = { ...DEFAULT_SETTINGS, maxParallelSteps: 2, mlflowTrackingUri: 'http://m' };
    expect(
      startRunBody('a.ipynb', {}, settings, { backend: 'kfp-local', useCache: false })
    ).toMatchObject({ backend: 'kfp-local', use_cache: false, jobs: 2, tracking_uri: 'http://m' });
  });

  it('compiles with the default image when one is set', () => {
    expect(compileBody('a.ipynb', DEFAULT_SETTINGS)).toEqual({
      path: 'a.ipynb',
      target: 'kfp',
      image: null
    });
    expect(compileBody('a.ipynb', { ...DEFAULT_SETTINGS, defaultImage: 'img:1' }).image).toBe(
      'img:1'
    );
  });

  it('submits to the engine chosen, with its host settings', () => {
    expect(submitBody('a.ipynb', 'airflow', { n: 1 }, { host: 'http://af' })).toEqual({
      path: 'a.ipynb',
      engine: 'airflow',
      parameters: { n: 1 },
      settings: { host: 'http://af' }
    });
  });
});

describe('download file names', () => {
  it('takes the name from Content-Disposition', () => {
    expect(attachmentFilename('attachment; filename="iris.pipeline.yaml"', 'x')).toBe(
      'iris.pipeline.yaml'
    );
    expect(attachmentFilename("attachment; filename*=UTF-8''caf%C3%A9.yaml", 'x')).toBe(
      'café.yaml'
    );
  });

  it('never lets a header pick a folder, and falls back when there is no name', () => {
    expect(attachmentFilename('attachment; filename="../../etc/p.yaml"', 'x')).toBe('p.yaml');
    expect(attachmentFilename(null, 'pipeline.yaml')).toBe('pipeline.yaml');
    expect(attachmentFilename('attachment', 'pipeline.yaml')).toBe('pipeline.yaml');
  });
});
