import { fitViewport, MIN_READABLE_ZOOM, READABLE_PX, SMALLEST_LABEL_PX } from '../fit';

describe('fit to view keeps text readable', () => {
  it('never zooms out below the readable size of the smallest label', () => {
    expect(SMALLEST_LABEL_PX * MIN_READABLE_ZOOM).toBeGreaterThanOrEqual(READABLE_PX);
    // a 30-step chain: 180 px wide, 30 * 90 px high, in an 800 x 600 view
    const view = fitViewport(180, 2700, 800, 600);
    expect(view.zoom).toBe(MIN_READABLE_ZOOM);
    expect(view.y).toBeCloseTo(600 * 0.04); // its first steps in view
    expect(view.x).toBeCloseTo((800 - 180 * view.zoom) / 2); // centred sideways
  });

  it('fits a small drawing whole, at most at its own size', () => {
    const view = fitViewport(400, 300, 800, 600);
    expect(view.zoom).toBe(1);
    expect(view).toEqual({ x: 200, y: 150, zoom: 1 });
  });

  it('starts a drawing wider than the view at its left edge', () => {
    const view = fitViewport(3000, 200, 800, 600);
    expect(view.zoom).toBe(MIN_READABLE_ZOOM);
    expect(view.x).toBeCloseTo(800 * 0.04);
  });
});
