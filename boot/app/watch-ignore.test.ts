import { describe, expect, it } from 'vitest';
import { WATCH_IGNORED, isIgnoredByWatch } from './watch-ignore.js';

describe('isIgnoredByWatch', () => {
  it.each([
    ['.notes.yaml.swp', 'Vim swap'],
    ['.notes.yaml.swo', 'Vim second swap'],
    ['.notes.yaml.swx', 'Vim swap probe'],
    ['notes.yaml~', 'backup'],
    ['4913', 'Vim write probe'],
    ['.#notes.yaml', 'Emacs lock'],
    ['#notes.yaml#', 'Emacs auto-save'],
    ['notes.yaml.tmp', 'temporary file'],
    ['notes.yaml.tmp.1234', 'numbered temporary file'],
    ['notes.yaml.tmp-5e1f', 'hashed temporary file'],
    ['notes.yaml___jb_tmp___', 'JetBrains safe write'],
    ['sedAb12Cd', 'sed -i'],
    ['node_modules', 'packages'],
    ['.git', 'version control'],
    ['.kindling', 'the state directory'],
  ])('ignores %s (%s)', (name) => {
    expect(isIgnoredByWatch(name)).toBe(true);
  });

  it.each([
    'notes.yaml',
    'notes.yml',
    '.hidden.yaml',
    'greet.js',
    'registry',
    'templates.yaml',
    'x.temp.yaml',
    'sed.yaml',
    '49130',
  ])('watches %s', (name) => {
    expect(isIgnoredByWatch(name)).toBe(false);
  });

  it('says why of every rule', () => {
    for (const rule of WATCH_IGNORED) expect(rule.why.length).toBeGreaterThan(10);
  });
});
