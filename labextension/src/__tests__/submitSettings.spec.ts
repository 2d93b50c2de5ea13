import {
  defaultSubmitEngine,
  fieldTexts,
  loadSubmitTexts,
  missingFields,
  saveSubmitTexts,
  SESSION_KEY,
  submitEngines,
  submitSettings,
  withoutSecrets
} from '../submitSettings';
import { DEFAULT_SETTINGS, IEngineInfo, ISubmitOption } from '../types';

function option(name: string, extra: Partial<ISubmitOption> = {}): ISubmitOption {
  return { name, label: name, help: '', secret: false, required: false, placeholder: '', ...extra };
}

const CAPS = {
  remote: false,
  run: true,
  submit: false,
  compile: false,
  resume: false,
  cancel: true,
  cache: false,
  models: false,
  logs: true
};
const AIRFLOW_OPTIONS = [
  option('host', { required: true }),
  option('dags_folder', { required: true, label: 'DAGs folder' }),
  option('username'),
  option('password', { secret: true })
];
const ENGINES: IEngineInfo[] = [
  { name: 'local', description: '', capabilities: CAPS },
  {
    name: 'airflow',
    description: '',
    capabilities: { ...CAPS, submit: true },
    submit_options: AIRFLOW_OPTIONS
  },
  {
    name: 'kfp',
    description: '',
    capabilities: { ...CAPS, submit: true, run: false },
    submit_options: [option('host', { required: true }), option('token', { secret: true })]
  }
];

class MemoryStorage {
  data: { [key: string]: string } = {};
  getItem(key: string): string | null {
    return this.data[key] ?? null;
  }
  setItem(key: string, value: string): void {
    this.data[key] = value;
  }
}

describe('the Submit form', () => {
  it('offers the engines that submit, KFP first', () => {
    expect(submitEngines(ENGINES).map(e => e.name)).toEqual(['airflow', 'kfp']);
    expect(defaultSubmitEngine(ENGINES)).toBe('kfp');
    expect(defaultSubmitEngine(ENGINES.slice(0, 2))).toBe('airflow');
    expect(defaultSubmitEngine(ENGINES.slice(0, 1))).toBeNull();
  });

  it('fills KFP fields from the panel settings until typed', () => {
    const kfp = ENGINES[2].submit_options!;
    const settings = { ...DEFAULT_SETTINGS, kfpHost: ' http://kfp ' };
    expect(fieldTexts('kfp', kfp, {}, settings)).toEqual({ host: 'http://kfp', token: '' });
    expect(fieldTexts('kfp', kfp, { kfp: { host: 'http://other' } }, settings).host).toBe(
      'http://other'
    );
    expect(fieldTexts('airflow', AIRFLOW_OPTIONS, {}, settings).host).toBe('');
  });

  it('names the required fields left empty', () => {
    expect(missingFields(AIRFLOW_OPTIONS, { host: 'http://a', dags_folder: ' ' })).toEqual([
      'DAGs folder'
    ]);
    expect(missingFields(AIRFLOW_OPTIONS, { host: 'h', dags_folder: '/d' })).toEqual([]);
  });

  it('sends the fields given, trimmed, secrets as typed', () => {
    expect(
      submitSettings(AIRFLOW_OPTIONS, {
        host: ' http://a ',
        dags_folder: '/d',
        username: '',
        password: ' p w '
      })
    ).toEqual({ host: 'http://a', dags_folder: '/d', password: ' p w ' });
  });

  it('remembers the session without secrets', () => {
    const storage = new MemoryStorage();
    const texts = {
      airflow: { host: 'http://a', password: 'hunter2' },
      kfp: { host: 'http://k', token: 'tok' }
    };
    expect(withoutSecrets(texts, ENGINES)).toEqual({
      airflow: { host: 'http://a' },
      kfp: { host: 'http://k' }
    });
    saveSubmitTexts(storage, texts, ENGINES);
    expect(storage.data[SESSION_KEY]).not.toContain('hunter2');
    expect(storage.data[SESSION_KEY]).not.toContain('tok"');
    expect(loadSubmitTexts(storage)).toEqual({
      airflow: { host: 'http://a' },
      kfp: { host: 'http://k' }
    });
  });

  it('reads nothing from a broken or foreign session value', () => {
    const storage = new MemoryStorage();
    storage.data[SESSION_KEY] = '{not json';
    expect(loadSubmitTexts(storage)).toEqual({});
    storage.data[SESSION_KEY] = '[1, 2]';
    expect(loadSubmitTexts(storage)).toEqual({});
    storage.data[SESSION_KEY] = '{"kfp": {"host": 3, "image": "i"}}';
    expect(loadSubmitTexts(storage)).toEqual({ kfp: { image: 'i' } });
    expect(loadSubmitTexts(null)).toEqual({});
  });
});
