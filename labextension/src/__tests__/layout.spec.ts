import {
  assignLayers,
  edgeLabel,
  layoutPipeline,
  orderLayers,
  placementOrder
} from '../layout';
import { IEdge, IStep } from '../types';

function step(name: string, phase: string | null = null): IStep {
  return { name, phase, cells: [], inputs: [], outputs: [], after: [], metrics: [], models: [] };
}

function data(source: string, target: string, ...variables: string[]): IEdge {
  return { source, target, kind: 'data', variables };
}

/** The iris example's DAG (docs/ir.md). */
const iris = {
  steps: [
    step('fetch', 'fetch'),
    step('prepare', 'prepare'),
    step('train', 'train'),
    step('evaluate', 'evaluate'),
    step('validate', 'validate')
  ],
  edges: [
    data('fetch', 'prepare', 'raw'),
    data('prepare', 'train', 'X_train', 'y_train'),
    data('train', 'evaluate', 'clf'),
    data('prepare', 'evaluate', 'X_test', 'y_test'),
    data('evaluate', 'validate', 'accuracy')
  ],
  order: ['fetch', 'prepare', 'train', 'evaluate', 'validate']
};

describe('layers', () => {
  it('puts a step one layer below its deepest upstream step', () => {
    const layers = assignLayers(iris.order, iris.edges);
    expect(Object.fromEntries(layers)).toEqual({
      fetch: 0,
      prepare: 1,
      train: 2,
      evaluate: 3, // below train, not just below prepare
      validate: 4
    });
  });

  it('puts independent steps side by side in one layer', () => {
    const edges = [data('a', 'b', 'x'), data('a', 'c', 'x'), data('b', 'd', 'y'), data('c', 'd', 'z')];
    const layers = assignLayers(['a', 'b', 'c', 'd'], edges);
    expect(orderLayers(['a', 'b', 'c', 'd'], layers, edges)).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('orders a layer by the positions of the parents to avoid crossings', () => {
    // Notebook order lists y's child before x's child; the layout must not cross them.
    const sequence = ['x', 'y', 'under_y', 'under_x'];
    const edges = [data('x', 'under_x', 'a'), data('y', 'under_y', 'b')];
    const rows = orderLayers(sequence, assignLayers(sequence, edges), edges);
    expect(rows).toEqual([['x', 'y'], ['under_x', 'under_y']]);
  });

  it('survives a cycle: the edge against notebook order is not followed', () => {
    const edges = [data('a', 'b', 'x'), data('b', 'a', 'y')];
    const layers = assignLayers(['a', 'b'], edges);
    expect(Object.fromEntries(layers)).toEqual({ a: 0, b: 1 });
  });
});

describe('placement order', () => {
  it('uses the run order of a valid pipeline', () => {
    expect(placementOrder({ steps: [step('b'), step('a')], order: ['a', 'b'] })).toEqual([
      'a',
      'b'
    ]);
  });

  it('falls back to notebook order when order is empty (invalid pipeline)', () => {
    expect(placementOrder({ steps: [step('b'), step('a')], order: [] })).toEqual(['b', 'a']);
  });
});

describe('layoutPipeline', () => {
  const layout = layoutPipeline(iris);

  it('places each layer below the previous one, inside the drawing', () => {
    const y = (name: string) => layout.nodes.find(n => n.name === name)!.y;
    expect(y('fetch')).toBeLessThan(y('prepare'));
    expect(y('train')).toBeLessThan(y('evaluate'));
    for (const node of layout.nodes) {
      expect(node.x).toBeGreaterThanOrEqual(0);
      expect(node.x + node.width).toBeLessThanOrEqual(layout.width);
      expect(node.y + node.height).toBeLessThanOrEqual(layout.height);
    }
  });

  it('labels every edge with the variables it carries', () => {
    const labels = Object.fromEntries(
      layout.edges.map(e => [`${e.source}->${e.target}`, e.label])
    );
    expect(labels).toEqual({
      'fetch->prepare': 'raw',
      'prepare->train': 'X_train, y_train',
      'train->evaluate': 'clf',
      'prepare->evaluate': 'X_test, y_test',
      'evaluate->validate': 'accuracy'
    });
  });

  it('draws an edge from the bottom of its source to the top of its target', () => {
    const edge = layout.edges.find(e => e.source === 'fetch')!;
    const fetch = layout.nodes.find(n => n.name === 'fetch')!;
    const prepare = layout.nodes.find(n => n.name === 'prepare')!;
    expect(edge.path.startsWith(`M ${fetch.x + fetch.width / 2} ${fetch.y + fetch.height} `)).toBe(
      true
    );
    expect(edge.path.endsWith(`${prepare.x + prepare.width / 2} ${prepare.y}`)).toBe(true);
    expect(edge.back).toBe(false);
  });

  it('routes an edge that skips a layer beside the step in between, not through it', () => {
    const train = layout.nodes.find(n => n.name === 'train')!;
    const edge = layout.edges.find(e => e.source === 'prepare' && e.target === 'evaluate')!;
    // The lane is a vertical stretch ("L x y") at the height of train's layer.
    const lane = /L (\S+) (\S+)/.exec(edge.path);
    expect(lane).not.toBeNull();
    const x = Number(lane![1]);
    expect(x < train.x || x > train.x + train.width).toBe(true);
    expect(Number(lane![2])).toBe(train.y + train.height);
    // Lanes are not steps.
    expect(layout.nodes.map(n => n.name).sort()).toEqual(
      ['evaluate', 'fetch', 'prepare', 'train', 'validate']
    );
    expect(layout.layers[2]).toEqual(['train']);
  });

  it('keeps edges to unknown steps out of the drawing and reports them', () => {
    const broken = layoutPipeline({
      steps: [step('a'), step('b')],
      order: [],
      edges: [data('a', 'b', 'x'), { source: 'ghost', target: 'b', kind: 'order', variables: [] }]
    });
    expect(broken.edges.map(e => e.source)).toEqual(['a']);
    expect(broken.dangling).toEqual([
      { source: 'ghost', target: 'b', kind: 'order', variables: [] }
    ]);
  });

  it('marks a cycle edge as going back', () => {
    const cyclic = layoutPipeline({
      steps: [step('a'), step('b')],
      order: [],
      edges: [data('a', 'b', 'x'), data('b', 'a', 'y')]
    });
    expect(cyclic.edges.map(e => [e.source, e.back])).toEqual([
      ['a', false],
      ['b', true]
    ]);
  });

  it('draws an empty pipeline as an empty picture', () => {
    const empty = layoutPipeline({ steps: [], order: [], edges: [] });
    expect(empty.nodes).toEqual([]);
    expect(empty.layers).toEqual([]);
  });
});

describe('edge labels', () => {
  it('cuts long variable lists with an ellipsis', () => {
    const label = edgeLabel(data('a', 'b', 'features_train', 'labels_train', 'weights'), 20);
    expect(label).toHaveLength(20);
    expect(label.endsWith('…')).toBe(true);
  });

  it("labels an order-only edge 'after'", () => {
    expect(edgeLabel({ source: 'a', target: 'b', kind: 'order', variables: [] }, 20)).toBe('after');
  });

  it('labels a file edge with the paths it hands over, after any variables', () => {
    const only = { source: 'a', target: 'b', kind: 'file' as const, variables: [], files: ['report.csv'] };
    expect(edgeLabel(only, 20)).toBe('report.csv');
    expect(edgeLabel({ ...data('a', 'b', 'x'), files: ['out/r.csv'] }, 20)).toBe('x, out/r.csv');
  });
});
