/**
 * Unit tests of the panel's pure logic (layout, colours, forms, tags, URLs): plain
 * TypeScript modules with no DOM and no JupyterLab imports, so ts-jest in node suffices.
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/labextension/src'],
  testRegex: '__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
