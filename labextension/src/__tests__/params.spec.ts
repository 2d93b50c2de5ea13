import {
  coerceParameter,
  fieldSpec,
  initialText,
  mergeFormTexts,
  readForm
} from '../params';
import { IParameter } from '../types';

function param(overrides: Partial<IParameter>): IParameter {
  return {
    name: 'p',
    type: 'any',
    default: null,
    help: '',
    nullable: false,
    choices: null,
    minimum: null,
    maximum: null,
    cell_index: 3,
    cell_id: 'abc',
    line: 1,
    ...overrides
  };
}

const testSize = param({ name: 'test_size', type: 'float', default: 0.25, minimum: 0, maximum: 1 });
const trees = param({ name: 'n_estimators', type: 'int', default: 100, minimum: 1 });
const model = param({ name: 'model', type: 'str', default: 'rf', choices: ['rf', 'svm'] });
const verbose = param({ name: 'verbose', type: 'bool', default: false });
const depth = param({ name: 'max_depth', type: 'int', default: null, nullable: true });
const features = param({ name: 'features', type: 'list', default: ['a', 'b'] });
const title = param({ name: 'title', type: 'str', default: 'Iris' });

describe('field for each parameter', () => {
  it('offers choices as a select', () => {
    const spec = fieldSpec(model);
    expect(spec.kind).toBe('select');
    expect(spec.options.map(o => o.value)).toEqual(['rf', 'svm']);
  });

  it('gives numbers their bounds and step', () => {
    expect(fieldSpec(testSize)).toMatchObject({ kind: 'number', min: 0, max: 1, step: 'any' });
    expect(fieldSpec(trees)).toMatchObject({ kind: 'number', min: 1, max: null, step: '1' });
  });

  it('uses a checkbox for bool, a select with None for an Optional bool', () => {
    expect(fieldSpec(verbose).kind).toBe('checkbox');
    const optional = fieldSpec({ ...verbose, nullable: true });
    expect(optional.kind).toBe('select');
    expect(optional.options.map(o => o.label)).toEqual(['True', 'False', 'None']);
  });

  it('edits lists and dicts as JSON', () => {
    expect(fieldSpec(features).kind).toBe('json');
    expect(initialText(features)).toBe('["a","b"]');
  });

  it('starts each field from the notebook default', () => {
    expect(initialText(testSize)).toBe('0.25');
    expect(initialText(model)).toBe('0'); // index of 'rf'
    expect(initialText(verbose)).toBe('false');
    expect(initialText(depth)).toBe('');
    expect(initialText(title)).toBe('Iris');
  });
});

describe('coercion and validation', () => {
  it('reads numbers as numbers', () => {
    expect(coerceParameter(testSize, '0.3')).toEqual({ ok: true, value: 0.3 });
    expect(coerceParameter(trees, ' 50 ')).toEqual({ ok: true, value: 50 });
  });

  it('refuses a fraction for an int, text for a number, and values out of range', () => {
    expect(coerceParameter(trees, '2.5')).toEqual({ ok: false, error: 'not a whole number: 2.5' });
    expect(coerceParameter(testSize, 'abc')).toEqual({ ok: false, error: 'not a number: abc' });
    expect(coerceParameter(testSize, '0x10').ok).toBe(false);
    expect(coerceParameter(testSize, '1.5')).toEqual({ ok: false, error: 'must be at most 1' });
    expect(coerceParameter(trees, '0')).toEqual({ ok: false, error: 'must be at least 1' });
    expect(coerceParameter(trees, '')).toEqual({ ok: false, error: 'required' });
  });

  it('takes an empty field as None only where None is allowed', () => {
    expect(coerceParameter(depth, '')).toEqual({ ok: true, value: null });
    expect(coerceParameter(depth, '7')).toEqual({ ok: true, value: 7 });
  });

  it('maps a select index back to the choice, keeping its type', () => {
    const sizes = param({ type: 'int', default: 10, choices: [10, 20] });
    expect(coerceParameter(sizes, '1')).toEqual({ ok: true, value: 20 });
    expect(coerceParameter(sizes, '').ok).toBe(false);
  });

  it('reads JSON for lists and dicts and checks its shape', () => {
    expect(coerceParameter(features, '["x"]')).toEqual({ ok: true, value: ['x'] });
    expect(coerceParameter(features, '{"x": 1}')).toEqual({
      ok: false,
      error: 'expected a JSON list, e.g. [1, 2]'
    });
    expect(coerceParameter(features, '[1,')).toEqual({ ok: false, error: 'not valid JSON' });
    const options = param({ type: 'dict', default: {} });
    expect(coerceParameter(options, '[1]').ok).toBe(false);
    expect(coerceParameter(options, '{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('keeps a string exactly as typed, quotes and spaces included', () => {
    expect(coerceParameter(title, ' it\'s "x" ')).toEqual({ ok: true, value: ' it\'s "x" ' });
  });
});

describe('reading the form', () => {
  const params = [testSize, trees, model, verbose];

  it('sends only what differs from the defaults', () => {
    const texts = { test_size: '0.25', n_estimators: '50', model: '1', verbose: 'true' };
    expect(readForm(params, texts)).toEqual({
      overrides: { n_estimators: 50, model: 'svm', verbose: true },
      errors: {},
      valid: true
    });
  });

  it('collects the error of each invalid field', () => {
    const result = readForm(params, { test_size: '2', n_estimators: 'many' });
    expect(result.valid).toBe(false);
    expect(Object.keys(result.errors).sort()).toEqual(['n_estimators', 'test_size']);
  });

  it("keeps a user's edit across a re-read, and resets a parameter whose type changed", () => {
    const before = { params: [testSize, trees], texts: { test_size: '0.5', n_estimators: '100' } };
    const retyped = { ...trees, type: 'float' as const, default: 100.0 };
    expect(mergeFormTexts(before, [testSize, retyped, model])).toEqual({
      test_size: '0.5', // edited: kept
      n_estimators: '100', // retyped: from the new default
      model: '0' // new: its default
    });
  });

  it('picks up a changed default for a field the user did not edit', () => {
    const before = { params: [trees], texts: { n_estimators: '100' } };
    expect(mergeFormTexts(before, [{ ...trees, default: 200 }])).toEqual({ n_estimators: '200' });
  });
});
