import { layoutPipeline } from '../elk';
import {
  collapseLabels,
  edgeLabel,
  edgeLabelLines,
  IDagEdge,
  IDagLayout,
  NODE_MAX_WIDTH,
  nodeWidth,
  placementOrder
} from '../graph';
import { routePath } from '../route';
import { IEdge, IStep } from '../types';

function step(name: string, phase: string | null = null): IStep {
  return { name, phase, cells: [], inputs: [], outputs: [], after: [], metrics: [], models: [] };
}

function data(source: string, target: string, ...variables: string[]): IEdge {
  return { source, target, kind: 'data', variables };
}

function pipelineOf(names: string[], edges: IEdge[]) {
  return { steps: names.map(n => step(n)), order: names, edges };
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

/** The 9-step notebook: a chain of three, five models in parallel, a join. */
function fanOutFanIn() {
  const models = ['model_linear', 'model_forest', 'model_boosting', 'model_svm', 'model_knn'];
  const names = ['load_raw_data', 'datapreprocessing_and_cleaning', 'features', ...models, 'join'];
  const edges = [
    data('load_raw_data', 'datapreprocessing_and_cleaning', 'raw'),
    data('datapreprocessing_and_cleaning', 'features', 'clean'),
    ...models.map(m => data('features', m, 'X_train', 'y_train', 'X_test')),
    ...models.map(m => data(m, 'join', `score_${m}`))
  ];
  return pipelineOf(names, edges);
}

const node = (layout: IDagLayout, name: string) => layout.nodes.find(n => n.name === name)!;

function overlaps(a: { x: number; y: number; width: number; height: number },
                  b: { x: number; y: number; width: number; height: number }): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('placement order', () => {
  it('uses the run order of a valid pipeline', () => {
    expect(placementOrder({ steps: [step('b'), step('a')], order: ['a', 'b'] })).toEqual(['a', 'b']);
  });

  it('falls back to notebook order when order is empty (invalid pipeline)', () => {
    expect(placementOrder({ steps: [step('b'), step('a')], order: [] })).toEqual(['b', 'a']);
  });
});

describe('edge labels', () => {
  it('shows the variables, or their count when the list is long', () => {
    expect(edgeLabel(data('a', 'b', 'X_train', 'y_train'))).toBe('X_train, y_train');
    expect(edgeLabel(data('a', 'b', 'features_train', 'labels_train', 'weights'))).toBe('3 vars');
  });

  it('writes a few variables one a line, so the label stays narrow', () => {
    expect(edgeLabelLines(data('a', 'b', 'X_train', 'y_train'))).toEqual(['X_train', 'y_train']);
    expect(edgeLabelLines(data('a', 'b', 'raw'))).toEqual(['raw']);
    expect(edgeLabelLines(data('a', 'b', 'w', 'x', 'y', 'z'))).toEqual(['w, x, y, z']);
    expect(edgeLabelLines(data('a', 'b', 'feature_a', 'feature_b', 'feature_c', 'feature_d'))).toEqual(['4 vars']);
  });

  it("labels an order-only edge 'after'", () => {
    expect(edgeLabel({ source: 'a', target: 'b', kind: 'order', variables: [] })).toBe('after');
  });

  it('labels a file edge with the paths it hands over, after any variables', () => {
    const only = { source: 'a', target: 'b', kind: 'file' as const, variables: [], files: ['report.csv'] };
    expect(edgeLabel(only)).toBe('report.csv');
    expect(edgeLabel({ ...data('a', 'b', 'x'), files: ['out/r.csv'] })).toBe('x, out/r.csv');
    expect(edgeLabel({ ...data('a', 'b', 'x', 'y'), files: ['out/long_report.csv'] })).toBe(
      '2 vars + 1 file'
    );
  });

  it('collapses overlapping labels into one count whose tooltip lists every edge', () => {
    const at = (id: string, x: number, title: string): IDagEdge => ({
      id, source: id, target: 'join', kind: 'data', flowing: [id], label: id, lines: [id], title,
      points: [], labelX: x, labelY: 100, labelWidth: 40, labelHeight: 15, back: false
    });
    const [a, b, c] = collapseLabels([at('a', 0, 'a → join: x'), at('b', 30, 'b → join: y'), at('c', 200, 'c → join: z')]);
    expect(a.label).toBe('2 edges');
    expect(a.title).toBe('a → join: x\nb → join: y');
    expect(a.lines).toEqual(['2 edges']);
    expect(b.label).toBe('');
    expect(b.lines).toEqual([]);
    expect(c.label).toBe('c');
  });
});

describe('node sizes', () => {
  it('widens a node for its name, up to a cap', () => {
    expect(nodeWidth('fetch')).toBeLessThan(nodeWidth('datapreprocessing_and_cleaning'));
    expect(nodeWidth('x'.repeat(80))).toBe(NODE_MAX_WIDTH);
  });
});

describe('ELK layout', () => {
  it('lays the iris pipeline out in layers, labels every edge', async () => {
    const layout = await layoutPipeline(iris);
    const y = (name: string) => node(layout, name).y;
    expect(y('fetch')).toBeLessThan(y('prepare'));
    expect(y('prepare')).toBeLessThan(y('train'));
    expect(y('train')).toBeLessThan(y('evaluate'));
    expect(y('evaluate')).toBeLessThan(y('validate'));
    // Narrow enough for the side panel's default width (about 250 px): no sideways scroll.
    expect(layout.width).toBeLessThanOrEqual(240);
    for (const n of layout.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width).toBeLessThanOrEqual(layout.width);
      expect(n.y + n.height).toBeLessThanOrEqual(layout.height);
    }
    expect(Object.fromEntries(layout.edges.map(e => [`${e.source}->${e.target}`, e.label]))).toEqual({
      'fetch->prepare': 'raw',
      'prepare->train': 'X_train, y_train',
      'train->evaluate': 'clf',
      'prepare->evaluate': 'X_test, y_test',
      'evaluate->validate': 'accuracy'
    });
  });

  it('routes each edge from its source to its target, around the steps in between', async () => {
    const layout = await layoutPipeline(iris);
    for (const edge of layout.edges) {
      const s = node(layout, edge.source);
      const t = node(layout, edge.target);
      const [x0, y0] = edge.points[0];
      const [x1, y1] = edge.points[edge.points.length - 1];
      expect(y0).toBeCloseTo(s.y + s.height);
      expect(x0).toBeGreaterThanOrEqual(s.x);
      expect(x0).toBeLessThanOrEqual(s.x + s.width);
      expect(y1).toBeCloseTo(t.y);
      expect(x1).toBeGreaterThanOrEqual(t.x);
      expect(x1).toBeLessThanOrEqual(t.x + t.width);
    }
    // prepare -> evaluate skips train's layer: no segment of it crosses train's box.
    const train = node(layout, 'train');
    const skip = layout.edges.find(e => e.source === 'prepare' && e.target === 'evaluate')!;
    for (let i = 1; i < skip.points.length; i++) {
      const [ax, ay] = skip.points[i - 1];
      const [bx, by] = skip.points[i];
      const box = { x: Math.min(ax, bx), y: Math.min(ay, by), width: Math.abs(bx - ax) || 0.1, height: Math.abs(by - ay) || 0.1 };
      expect(overlaps(box, train)).toBe(false);
    }
  });

  it('draws the 9-step fan-out/fan-in with no node or label overlapping another', async () => {
    const layout = await layoutPipeline(fanOutFanIn());
    expect(layout.nodes).toHaveLength(9);
    const models = layout.nodes.filter(n => n.name.startsWith('model_'));
    expect(new Set(models.map(n => n.y)).size).toBe(1); // the five side by side
    expect(node(layout, 'join').y).toBeGreaterThan(models[0].y);
    const boxes = [
      ...layout.nodes,
      ...layout.edges.filter(e => e.label).map(e => ({ x: e.labelX, y: e.labelY, width: e.labelWidth, height: e.labelHeight }))
    ];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        expect(overlaps(boxes[i], boxes[j])).toBe(false);
      }
    }
    // The long name keeps its node within the cap (the drawing cuts it, with a tooltip).
    expect(node(layout, 'datapreprocessing_and_cleaning').width).toBe(NODE_MAX_WIDTH);
  });

  it('keeps edges to unknown steps out of the drawing and reports them', async () => {
    const broken = await layoutPipeline({
      steps: [step('a'), step('b')],
      order: [],
      edges: [data('a', 'b', 'x'), { source: 'ghost', target: 'b', kind: 'order', variables: [] }]
    });
    expect(broken.edges.map(e => e.source)).toEqual(['a']);
    expect(broken.dangling).toEqual([{ source: 'ghost', target: 'b', kind: 'order', variables: [] }]);
  });

  it('survives a cycle and marks the edge going back', async () => {
    const cyclic = await layoutPipeline({
      steps: [step('a'), step('b')],
      order: [],
      edges: [data('a', 'b', 'x'), data('b', 'a', 'y')]
    });
    expect(cyclic.edges.map(e => [e.source, e.back])).toEqual([
      ['a', false],
      ['b', true]
    ]);
    expect(cyclic.edges.every(e => e.points.length >= 2)).toBe(true);
  });

  it('draws an empty pipeline as an empty picture', async () => {
    const empty = await layoutPipeline({ steps: [], order: [], edges: [] });
    expect(empty.nodes).toEqual([]);
    expect(empty.edges).toEqual([]);
  });
});

describe('route path', () => {
  it('joins the routed points with rounded corners', () => {
    expect(routePath([[0, 0], [0, 10]])).toBe('M 0 0 L 0 10');
    expect(routePath([[0, 0], [0, 20], [20, 20]])).toBe('M 0 0 L 0 14 Q 0 20 6 20 L 20 20');
  });
});
