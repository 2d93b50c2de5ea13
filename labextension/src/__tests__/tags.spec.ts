import { applyRole, currentRole, parseRole, roleNameError } from '../tags';

describe('setting a cell role writes the tags a user would type', () => {
  it('starts a step', () => {
    expect(applyRole([], { kind: 'step', name: 'train' })).toEqual(['step:train']);
  });

  it('replaces the structural role but keeps step options and foreign tags', () => {
    const tags = ['step:train', 'cpu:1', 'model:clf', 'hide-input'];
    expect(applyRole(tags, { kind: 'step', name: 'fit' })).toEqual([
      'step:fit',
      'cpu:1',
      'model:clf',
      'hide-input'
    ]);
    expect(applyRole(['imports'], { kind: 'parameters' })).toEqual(['parameters']);
  });

  it("replaces Kale's aliases as well", () => {
    expect(applyRole(['block:load', 'prev:a'], { kind: 'skip' })).toEqual(['skip']);
    expect(applyRole(['pipeline-parameters'], { kind: 'metrics' })).toEqual(['metrics']);
  });

  it('keeps after: with a new step name but drops it when the cell stops being a step', () => {
    expect(applyRole(['step:a', 'after:x'], { kind: 'step', name: 'b' })).toEqual([
      'step:b',
      'after:x'
    ]);
    expect(applyRole(['step:a', 'after:x'], { kind: 'functions' })).toEqual(['functions']);
  });

  it('sets after: as one tag, replacing earlier after: and prev: tags', () => {
    expect(applyRole(['step:c', 'after:a', 'prev:z'], { kind: 'after', name: ' a , b ' })).toEqual(
      ['after:a,b', 'step:c']
    );
  });

  it('adds model:VAR, replacing only a tag for the same variable', () => {
    expect(applyRole(['step:t', 'model:clf'], { kind: 'model', name: 'reg' })).toEqual([
      'model:reg',
      'step:t',
      'model:clf'
    ]);
    expect(applyRole(['step:t', 'model:clf'], { kind: 'model', name: 'clf=iris' })).toEqual([
      'model:clf=iris',
      'step:t'
    ]);
  });

  it('clears every role tag and nothing else', () => {
    expect(
      applyRole(['step:t', 'after:a', 'model:m', 'cpu:2', 'custom'], { kind: 'none' })
    ).toEqual(['cpu:2', 'custom']);
  });

  it('never writes a tag twice', () => {
    expect(applyRole(['skip', 'skip'], { kind: 'skip' })).toEqual(['skip']);
  });

  it('refuses names the tag grammar would reject', () => {
    expect(() => applyRole([], { kind: 'step', name: 'Train Model' })).toThrow(/step name/);
    expect(roleNameError({ kind: 'step', name: 'train_2' })).toBeNull();
    expect(roleNameError({ kind: 'after', name: 'a,,b' })).not.toBeNull();
    expect(roleNameError({ kind: 'model', name: '1clf' })).not.toBeNull();
    expect(roleNameError({ kind: 'model', name: 'clf=' })).not.toBeNull();
    expect(roleNameError({ kind: 'imports' })).toBeNull();
  });
});

describe('reading a role back', () => {
  it('finds the structural role among other tags', () => {
    expect(currentRole(['cpu:1', 'step:train'])).toEqual({ kind: 'step', name: 'train' });
    expect(currentRole(['block:load'])).toEqual({ kind: 'step', name: 'load' });
    expect(currentRole(['pipeline-metrics'])).toEqual({ kind: 'metrics' });
    expect(currentRole(['hide-input'])).toEqual({ kind: 'none' });
  });

  it('parses roles as commands receive them', () => {
    expect(parseRole('step:train')).toEqual({ kind: 'step', name: 'train' });
    expect(parseRole('imports')).toEqual({ kind: 'imports' });
    expect(() => parseRole('gpu:1')).toThrow(/unknown role/);
  });
});
