import {
  executedNotebookUrl,
  howToOpen,
  joinSource,
  notebookView,
  viewerId,
  viewerTitle
} from '../executed';

const BASE = 'http://127.0.0.1:8888/user/ana/';

describe('the executed notebook route', () => {
  it('names the run and the step as path segments and the notebook in the query', () => {
    expect(executedNotebookUrl(BASE, '20261126-1-ab', 'train', 'dir/my nb.ipynb')).toBe(
      `${BASE}liminal/runs/20261126-1-ab/steps/train/notebook?path=dir%2Fmy%20nb.ipynb`
    );
  });

  it('encodes a slash in a step name so it cannot climb folders', () => {
    expect(executedNotebookUrl(BASE, 'r', '../x', 'a.ipynb')).toBe(
      `${BASE}liminal/runs/r/steps/..%2Fx/notebook?path=a.ipynb`
    );
  });
});

describe('how an executed notebook opens', () => {
  const step = { executed_notebook_path: '.liminal/runs/r/steps/train/executed.ipynb' };
  const status = (allow_hidden?: boolean) => ({
    version: '0.1.0',
    root_dir: '.',
    backends: ['local'],
    allow_hidden
  });

  it('opens the real file when the server shows hidden files', () => {
    expect(howToOpen(status(true), step)).toBe('file');
  });

  it('uses the read-only viewer when it does not, or when that is unknown', () => {
    expect(howToOpen(status(false), step)).toBe('viewer');
    expect(howToOpen(status(undefined), step)).toBe('viewer');
    expect(howToOpen(null, step)).toBe('viewer');
  });

  it('offers nothing for a step without an executed notebook', () => {
    expect(howToOpen(status(true), { executed_notebook_path: null })).toBeNull();
    expect(howToOpen(null, { executed_notebook_path: '' })).toBeNull();
  });
});

describe('the viewer tab', () => {
  it('is titled with the step then the run', () => {
    expect(viewerTitle('train', '20261126-153117-2de9')).toBe('train · 20261126-153117-2de9');
  });

  it('has one id per notebook, run and step, usable as a DOM id', () => {
    const a = viewerId('a.ipynb', 'r1', 'train');
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(viewerId('a.ipynb', 'r1', 'train')).toBe(a);
    const others = [
      viewerId('b.ipynb', 'r1', 'train'),
      viewerId('a.ipynb', 'r2', 'train'),
      viewerId('a.ipynb', 'r1', 'evaluate'),
      viewerId('dir/a.ipynb', 'r1', 'train')
    ];
    expect(new Set([a, ...others]).size).toBe(5);
  });
});

describe('the notebook as the viewer draws it', () => {
  const executed = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { language_info: { name: 'python' }, kernelspec: { language: 'python' } },
    cells: [
      { cell_type: 'markdown', source: ['# Train\n', 'the *model*'], metadata: {} },
      {
        cell_type: 'code',
        source: 'n_estimators = 20\n',
        execution_count: 1,
        metadata: { tags: ['injected-parameters'], papermill: { status: 'completed' } },
        outputs: []
      },
      {
        cell_type: 'code',
        source: ['print(accuracy)\n', 'raise ValueError("low")'],
        execution_count: 2,
        metadata: { papermill: { status: 'failed' } },
        outputs: [
          { output_type: 'stream', name: 'stdout', text: ['0.92\n'] },
          { output_type: 'display_data', data: { 'image/png': 'iVBOR' }, metadata: {} },
          { output_type: 'error', ename: 'ValueError', evalue: 'low', traceback: ['tb'] },
          null,
          { no: 'type' }
        ]
      },
      { cell_type: 'code', source: 'never_ran()', execution_count: null, outputs: [] },
      { cell_type: 'raw', source: 'raw text' },
      { cell_type: 'mystery', source: 'kept as text' }
    ]
  };

  it('keeps every cell in order with its source joined', () => {
    const view = notebookView(executed);
    expect(view.language).toBe('python');
    expect(view.cells.map(c => c.kind)).toEqual([
      'markdown',
      'code',
      'code',
      'code',
      'raw',
      'raw'
    ]);
    expect(view.cells[0].source).toBe('# Train\nthe *model*');
    expect(view.cells[2].source).toBe('print(accuracy)\nraise ValueError("low")');
    expect(view.cells[5].source).toBe('kept as text');
  });

  it('numbers the code cells that ran and marks those that did not', () => {
    const prompts = notebookView(executed).cells.map(c => c.prompt);
    expect(prompts).toEqual(['', '[1]:', '[2]:', '[ ]:', '', '']);
  });

  it('passes outputs through as nbformat holds them, dropping malformed ones', () => {
    const outputs = notebookView(executed).cells[2].outputs;
    expect(outputs.map(o => o.output_type)).toEqual(['stream', 'display_data', 'error']);
    expect(outputs[2]).toEqual(executed.cells[2].outputs?.[2]);
  });

  it("carries papermill's cell status, so the failed cell can be marked", () => {
    expect(notebookView(executed).cells.map(c => c.status)).toEqual([
      null,
      'completed',
      'failed',
      null,
      null,
      null
    ]);
  });

  it('shows what it can of a damaged notebook', () => {
    expect(notebookView({})).toEqual({ language: 'python', cells: [] });
    expect(notebookView({ cells: 'no', metadata: null }).cells).toEqual([]);
    expect(notebookView({ metadata: { kernelspec: { language: 'R' } } }).language).toBe('R');
    expect(joinSource(undefined)).toBe('');
    expect(joinSource(['a', 1])).toBe('a1');
  });
});
