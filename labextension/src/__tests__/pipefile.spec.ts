import {
  isMultiNotebook,
  isPipelineFile,
  notebookColours,
  notebookLabel,
  notebookOf,
  notebookPath,
  NOTEBOOK_COLOURS,
  runTarget
} from '../pipefile';
import { IPipeline, IPipelineResponse } from '../types';

/** A pipeline file's pipeline with these notebooks (paths relative to the file). */
function pipeline(notebooks: string[]): IPipeline {
  return { notebooks: notebooks.map(path => ({ path })), steps: [] } as unknown as IPipeline;
}

function response(pipelineFile: string | null): IPipelineResponse {
  return {
    path: 'wine/train.ipynb',
    valid: true,
    pipeline: null,
    errors: [],
    warnings: [],
    pipeline_file: pipelineFile
  };
}

describe('which YAML documents the panel follows', () => {
  it('follows liminal.yml and any YAML file with a top-level notebooks key', () => {
    expect(isPipelineFile('wine/liminal.yml', null)).toBe(true);
    expect(isPipelineFile('wine/LIMINAL.yaml', '')).toBe(true);
    expect(isPipelineFile('wine/flow.yaml', 'name: x\nnotebooks:\n  - a.ipynb\n')).toBe(true);
  });

  it('leaves other YAML files and non-YAML files alone', () => {
    expect(isPipelineFile('.github/ci.yml', 'jobs:\n  test: {}\n')).toBe(false);
    expect(isPipelineFile('env.yml', 'dependencies:\n  - notebooks: 1\n')).toBe(false);
    expect(isPipelineFile('liminal.yml.txt', 'notebooks: []')).toBe(false);
    expect(isPipelineFile('train.ipynb', null)).toBe(false);
  });
});

describe('what runs act on', () => {
  it('is the pipeline file a notebook belongs to, else the document itself', () => {
    expect(runTarget(response('wine/liminal.yml'), 'wine/train.ipynb')).toBe('wine/liminal.yml');
    expect(runTarget(response(null), 'wine/train.ipynb')).toBe('wine/train.ipynb');
    expect(runTarget(null, 'wine/liminal.yml')).toBe('wine/liminal.yml');
  });

  it('tells a pipeline of several notebooks from one notebook', () => {
    expect(isMultiNotebook(pipeline(['a.ipynb', 'b.ipynb']))).toBe(true);
    expect(isMultiNotebook(pipeline([]))).toBe(false);
    expect(isMultiNotebook(null)).toBe(false);
  });
});

describe('where a step of a pipeline file is', () => {
  it('resolves the IR path against the file folder', () => {
    expect(notebookPath('wine/liminal.yml', 'train.ipynb')).toBe('wine/train.ipynb');
    expect(notebookPath('liminal.yml', 'sub/./train.ipynb')).toBe('sub/train.ipynb');
    expect(notebookPath('a/b/liminal.yml', 'c/../d.ipynb')).toBe('a/b/d.ipynb');
  });

  it('gives the notebook itself for a one-notebook pipeline (empty notebook)', () => {
    expect(notebookPath('iris.ipynb', '')).toBe('iris.ipynb');
    expect(notebookPath('iris.ipynb', undefined)).toBe('iris.ipynb');
  });

  it('names the IR notebook of an open document, or null when it is not listed', () => {
    const p = pipeline(['load.ipynb', 'sub/train.ipynb']);
    expect(notebookOf(p, 'wine/liminal.yml', 'wine/sub/train.ipynb')).toBe('sub/train.ipynb');
    expect(notebookOf(p, 'wine/liminal.yml', 'wine/load.ipynb')).toBe('load.ipynb');
    expect(notebookOf(p, 'wine/liminal.yml', 'load.ipynb')).toBeNull();
    expect(notebookOf(p, 'wine/liminal.yml', 'wine/liminal.yml')).toBeNull();
    expect(notebookOf(null, 'wine/liminal.yml', 'wine/load.ipynb')).toBeNull();
  });
});

describe('notebook colours', () => {
  it('gives each notebook a colour by its place in the file, the same every time', () => {
    const p = pipeline(['load.ipynb', 'features.ipynb', 'train.ipynb']);
    const colours = notebookColours(p);
    expect(Array.from(colours.keys())).toEqual(['load.ipynb', 'features.ipynb', 'train.ipynb']);
    expect(Array.from(colours.values())).toEqual(NOTEBOOK_COLOURS.slice(0, 3));
    expect(notebookColours(pipeline(['load.ipynb', 'features.ipynb', 'train.ipynb']))).toEqual(
      colours
    );
  });

  it('keeps the colours apart while there are colours, then repeats them', () => {
    expect(new Set(NOTEBOOK_COLOURS).size).toBe(NOTEBOOK_COLOURS.length);
    const many = Array.from({ length: NOTEBOOK_COLOURS.length + 2 }, (_, i) => `n${i}.ipynb`);
    const colours = notebookColours(pipeline(many));
    expect(colours.get(`n${NOTEBOOK_COLOURS.length}.ipynb`)).toBe(NOTEBOOK_COLOURS[0]);
    expect(colours.get('n1.ipynb')).not.toBe(colours.get('n0.ipynb'));
  });

  it('never uses a run-state colour for a notebook', () => {
    const states = ['#2e9e44', '#7fc98f', '#d93025', '#2f80ed', '#e0e0e0', '#f2994a'];
    for (const colour of NOTEBOOK_COLOURS) {
      expect(states).not.toContain(colour);
    }
  });

  it('gives none to a one-notebook pipeline, and labels notebooks without .ipynb', () => {
    expect(notebookColours(pipeline([])).size).toBe(0);
    expect(notebookLabel('sub/train.ipynb')).toBe('sub/train');
  });
});
