import {
  elapsed,
  formatDuration,
  formatMetric,
  isRunActive,
  nodeFill,
  contrast,
  readableOn,
  phaseColour,
  phasesPresent,
  statusStyle,
  NEUTRAL_COLOUR
} from '../status';

describe('step state colours', () => {
  const states = ['waiting', 'running', 'succeeded', 'cached', 'failed', 'skipped', 'interrupted'];

  it('gives every step state of the run store its own word', () => {
    for (const state of states) {
      expect(statusStyle(state).label).toBe(state);
    }
  });

  it('tells success, failure and running apart by colour', () => {
    const fills = new Set(['succeeded', 'failed', 'running', 'waiting'].map(s => statusStyle(s).fill));
    expect(fills.size).toBe(4);
    // cached is a success too, but visibly not a fresh one
    expect(statusStyle('cached').fill).not.toBe(statusStyle('succeeded').fill);
  });

  it('keeps an unknown state visible with its own name', () => {
    expect(statusStyle('paused').label).toBe('paused');
    expect(statusStyle(null).label).toBe('unknown');
  });

  it('only a running run is polled', () => {
    expect(isRunActive('running')).toBe(true);
    for (const final of ['succeeded', 'failed', 'interrupted', 'cancelled']) {
      expect(isRunActive(final)).toBe(false);
    }
  });
});

describe('DAG node colours', () => {
  it('fills a node with its phase colour when no run is shown', () => {
    expect(nodeFill('train', undefined)).toEqual({
      fill: phaseColour('train'),
      stroke: phaseColour('train'),
      text: readableOn(phaseColour('train'))
    });
  });

  it('writes node text in the colour that reads best on its fill', () => {
    const fills = [
      NEUTRAL_COLOUR,
      ...['fetch', 'clean', 'prepare', 'train', 'evaluate', 'validate', 'deploy', 'inference',
        'monitor'].map(p => phaseColour(p)),
      ...['waiting', 'running', 'succeeded', 'cached', 'failed', 'skipped', 'cancelled'].map(
        s => statusStyle(s).fill
      )
    ];
    for (const fill of fills) {
      // WCAG AA for small text; the max of white's and black's contrast is never below 4.58
      expect(contrast(fill, readableOn(fill))).toBeGreaterThanOrEqual(4.5);
    }
    expect(readableOn('#ffffff')).toBe('#000000');
    expect(readableOn('#000000')).toBe('#ffffff');
  });

  it('fills a node by step state during a run and keeps the phase as its border', () => {
    const failed = nodeFill('train', 'failed');
    expect(failed.fill).toBe(statusStyle('failed').fill);
    expect(failed.stroke).toBe(phaseColour('train'));
  });

  it('gives a step with no phase the neutral colour', () => {
    expect(phaseColour(null)).toBe(NEUTRAL_COLOUR);
    expect(phaseColour('mystery')).toBe(NEUTRAL_COLOUR);
  });

  it('lists the phases present in pipeline order for the legend', () => {
    expect(phasesPresent(['train', null, 'fetch', 'train', 'custom'])).toEqual([
      'fetch',
      'train',
      'custom'
    ]);
  });
});

describe('durations and metrics', () => {
  it('writes durations at a useful precision', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(0.42)).toBe('0.4 s');
    expect(formatDuration(12.4)).toBe('12 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
  });

  it('measures a running step up to now', () => {
    expect(elapsed(100, null, 130)).toBe(30);
    expect(elapsed(100, 110, 130)).toBe(10);
    expect(elapsed(null, null, 130)).toBeNull();
  });

  it('shows metrics to four significant digits', () => {
    expect(formatMetric(0.921052631)).toBe('0.9211');
    expect(formatMetric(150)).toBe('150');
    expect(formatMetric(null)).toBe('null');
    expect(formatMetric('ok')).toBe('ok');
  });
});
