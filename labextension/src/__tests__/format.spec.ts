/** Number formats, chart ticks and the "use this model" snippets. */
import { niceTicks } from '../chart';
import { fmtCount, fmtMBNumber, fmtPercent } from '../dom';
import { SNIPPETS, snippetFor } from '../snippets';

test.each([
  [950, '950'], [12000, '12K'], [350000, '350K'], [4300000, '4.3M'], [3504872, '3.5M'], [25636712, '26M'],
  [143667240, '144M'], [1.2e9, '1.2B'], [null, '–']
])('fmtCount(%p) = %p', (value, text) => {
  expect(fmtCount(value as number | null)).toBe(text);
});

test('sizes and percentages', () => {
  expect([fmtMBNumber(0.004), fmtMBNumber(3.456), fmtMBNumber(17.2), fmtMBNumber(528.4)]).toEqual(['<0.01', '3.5', '17', '528']);
  expect(fmtPercent(0.7182)).toBe('71.8%');
});

test('chart ticks are round numbers covering the range', () => {
  expect(niceTicks(0, 1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  expect(niceTicks(0.4, 0.8)).toEqual([0.4, 0.5, 0.6, 0.7, 0.8]);
});

const model = { ref: 'xray-net:v2', id: 66, family: 'mobilenet', params: 2_200_000, parentRef: 'xray-net:v1' };

test.each(SNIPPETS.map(([kind]) => kind))('the %s snippet names no undefined variable', kind => {
  const code = snippetFor(kind, model, 'domain=medical');
  expect(code).not.toMatch(/x_train|y_train/);
  expect(code).toContain('import fmc_jupyter as fmc');
  if (/\bx\b, y\b/.test(code)) {
    expect(code).toContain('x = ...  # FILL IN');  // what the user supplies is an explicit placeholder
    expect(code).toContain('y = ...  # FILL IN');
  }
});

test('rank compares the model with the current search; diff uses the parent', () => {
  expect(snippetFor('rank', model, 'domain=medical')).toContain('models="(domain=medical) or id=66"');
  expect(snippetFor('diff', model)).toContain('fmc.diff("xray-net:v1", "xray-net:v2", registry=reg)');
  expect(snippetFor('diff', { ...model, parentRef: null })).toContain('other = ...  # FILL IN');
  expect(snippetFor('search', model)).toContain('family=\\"mobilenet\\" and params<=5M');
});
