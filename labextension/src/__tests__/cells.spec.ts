import { badgeFor, cellBadges, locateCell, stepFirstCell } from '../cells';
import { isRunArtifact } from '../paths';
import { phaseColour } from '../status';
import { IPipeline } from '../types';

const pipeline = {
  prelude: [{ index: 1, id: 'imp', source: 'import x' }],
  parameter_cells: [{ index: 3, id: 'par', source: 'n = 1' }],
  steps: [
    {
      name: 'fetch',
      phase: 'fetch',
      cells: [
        { index: 6, id: 'f1', source: '' },
        { index: 7, id: 'f2', source: '' }
      ],
      metrics: [],
      inputs: [],
      outputs: [],
      after: [],
      models: []
    },
    {
      name: 'evaluate',
      phase: 'evaluate',
      cells: [{ index: 9, id: 'e1', source: '' }],
      metrics: [
        { name: 'acc', expression: 'acc', cell_index: 12, cell_id: 'met', line: 1 }
      ],
      inputs: [],
      outputs: [],
      after: [],
      models: []
    }
  ]
} as unknown as IPipeline;

describe('cell badges', () => {
  const badges = cellBadges(pipeline);

  it('names the step of each step cell, in its phase colour', () => {
    expect(badgeFor(badges, 7, 'f2')).toMatchObject({
      text: 'fetch',
      step: 'fetch',
      colour: phaseColour('fetch')
    });
  });

  it('marks prelude, parameters and metrics cells', () => {
    expect(badgeFor(badges, 1, 'imp')?.text).toBe('prelude');
    expect(badgeFor(badges, 3, 'par')?.text).toBe('parameters');
    expect(badgeFor(badges, 12, 'met')).toMatchObject({ text: 'metrics', step: 'evaluate' });
  });

  it('follows a cell by its id when cells were inserted above it since the save', () => {
    expect(badgeFor(badges, 8, 'e1')?.text).toBe('evaluate');
    // a new cell (unknown id) at a saved step index gets no badge of another cell
    expect(badgeFor(badges, 9, 'new-cell')).toBeNull();
  });

  it('falls back to indices for notebooks without cell ids', () => {
    const old = cellBadges({
      ...pipeline,
      prelude: [{ index: 1, id: null, source: '' }],
      parameter_cells: [],
      steps: []
    } as IPipeline);
    expect(badgeFor(old, 1, null)?.text).toBe('prelude');
    expect(badgeFor(old, 2, null)).toBeNull();
  });
});

describe('cell badges of a pipeline file', () => {
  // Two notebooks whose cells share indices: each notebook's badges are its own.
  const step = (name: string, notebook: string, index: number) => ({
    name,
    notebook,
    phase: null,
    cells: [{ index, id: null, source: '' }],
    metrics: [],
    inputs: [],
    outputs: [],
    after: [],
    models: []
  });
  const file = {
    prelude: [],
    parameter_cells: [],
    notebooks: [
      { path: 'load.ipynb', prelude: [], parameter_cells: [] },
      {
        path: 'train.ipynb',
        prelude: [{ index: 1, id: null, source: 'import x' }],
        parameter_cells: [{ index: 2, id: null, source: 'C = 1' }]
      }
    ],
    steps: [step('load', 'load.ipynb', 1), step('fit', 'train.ipynb', 4)]
  } as unknown as IPipeline;

  it('badges the cells of the notebook named, with its own prelude and parameters', () => {
    const train = cellBadges(file, 'train.ipynb');
    expect(badgeFor(train, 1, null)?.text).toBe('prelude');
    expect(badgeFor(train, 2, null)?.text).toBe('parameters');
    expect(badgeFor(train, 4, null)?.text).toBe('fit');
    const load = cellBadges(file, 'load.ipynb');
    expect(badgeFor(load, 1, null)?.text).toBe('load');
    expect(badgeFor(load, 4, null)).toBeNull();
  });

  it('badges nothing in a notebook the file does not list', () => {
    expect(cellBadges(file, null).byIndex.size).toBe(0);
    expect(cellBadges(file, 'other.ipynb').byIndex.size).toBe(0);
  });
});

describe('locating the cell of a diagnostic', () => {
  const ids = ['a', 'b', 'c', null];

  it('finds a cell by id first', () => {
    expect(locateCell(ids, { cell_id: 'c', cell_index: 0 })).toBe(2);
  });

  it('falls back to the saved index, and to -1 when neither fits', () => {
    expect(locateCell(ids, { cell_id: 'gone', cell_index: 1 })).toBe(1);
    expect(locateCell(ids, { cell_id: null, cell_index: 3 })).toBe(3);
    expect(locateCell(ids, { cell_id: null, cell_index: 9 })).toBe(-1);
    expect(locateCell(ids, {})).toBe(-1);
  });

  it("finds a step's first cell", () => {
    expect(stepFirstCell(pipeline, 'fetch')).toEqual({ cell_index: 6, cell_id: 'f1' });
    expect(stepFirstCell(pipeline, 'nope')).toBeNull();
  });
});

describe('run artifacts', () => {
  it('recognises executed step notebooks under .liminal/', () => {
    expect(isRunArtifact('nb/.liminal/runs/r1/train/executed.ipynb')).toBe(true);
    expect(isRunArtifact('.liminal/runs/r1/a.ipynb')).toBe(true);
    expect(isRunArtifact('nb/iris.ipynb')).toBe(false);
    expect(isRunArtifact('nb/liminal/iris.ipynb')).toBe(false);
  });
});
