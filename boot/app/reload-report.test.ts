import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from 'kindling';
import { displayPath, relativePathsIn } from './display-path.js';
import { reloadLogLine } from './reload-report.js';

const here = (path: string): string => join(process.cwd(), path);
const result = {} as ApplyResult;

describe('reloadLogLine', () => {
  it('says what a watched burst applied: revision, counts, ids, files relative to the working directory', () => {
    const line = reloadLogLine({
      status: 'applied',
      revision: 7,
      changes: ['+app:a', '~app:b', '-app:c', '-app:d'],
      result,
      files: [here('registry/a.yaml'), '/elsewhere/b.yaml'],
    });
    expect(line).toEqual({
      level: 'info',
      message:
        'applied revision 7: 1 created, 1 updated, 2 deleted (+app:a ~app:b -app:c -app:d) after changes to registry/a.yaml, /elsewhere/b.yaml',
    });
  });

  it('counts the ids and files past the first few', () => {
    const changes = Array.from({ length: 12 }, (_, i) => `+app:n${i}`);
    const files = Array.from({ length: 7 }, (_, i) => here(`registry/${i}.yaml`));
    const { message } = reloadLogLine({ status: 'applied', revision: 2, changes, result, files });
    expect(message).toBe(
      'applied revision 2: 12 created, 0 updated, 0 deleted (+app:n0 +app:n1 +app:n2 +app:n3 +app:n4 +app:n5 +app:n6 +app:n7 +app:n8 +app:n9 and 2 more) after changes to registry/0.yaml, registry/1.yaml, registry/2.yaml, registry/3.yaml, registry/4.yaml and 2 more files',
    );
  });

  it('says when nothing changed, and when a reload recovered from a refusal', () => {
    expect(reloadLogLine({ status: 'unchanged', revision: 3 })).toEqual({
      level: 'info',
      message: 'no change to apply, serving revision 3',
    });
    expect(reloadLogLine({ status: 'unchanged', revision: 3, files: [here('a.yaml')], recovered: true }).message).toBe(
      'recovered from the refused change: no change to apply after changes to a.yaml, serving revision 3',
    );
    expect(
      reloadLogLine({ status: 'applied', revision: 4, changes: ['~app:a'], result, recovered: true }).message,
    ).toBe('recovered from the refused change: applied revision 4: 0 created, 1 updated, 0 deleted (~app:a)');
  });

  it('lists each problem of a refusal on its own line, as an error', () => {
    const line = reloadLogLine({
      status: 'refused',
      revision: 5,
      error: new Error('x'),
      message: 'x',
      problems: ['registry/a.yaml:3:1: bad', 'registry/b.yaml:1:1: worse'],
    });
    expect(line).toEqual({
      level: 'error',
      message: 'change refused, still serving revision 5:\n  registry/a.yaml:3:1: bad\n  registry/b.yaml:1:1: worse',
    });
  });
});

describe('displayPath and relativePathsIn', () => {
  it('shows a path under the working directory relative to it, and any other as it is', () => {
    expect(displayPath(here('registry/a.yaml'))).toBe('registry/a.yaml');
    expect(displayPath(process.cwd())).toBe('.');
    expect(displayPath('/elsewhere/a.yaml')).toBe('/elsewhere/a.yaml');
  });

  it('makes the paths under the working directory inside a message relative', () => {
    expect(
      relativePathsIn(`${here('registry/a.yaml')}:3:1: bad (see ${here('functions/f.js')}); /elsewhere/b.yaml:1:1`),
    ).toBe('registry/a.yaml:3:1: bad (see functions/f.js); /elsewhere/b.yaml:1:1');
  });
});
