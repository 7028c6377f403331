import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, orderProblems, problemOf, shownPath } from './problems.js';

describe('problemOf', () => {
  it('takes a leading file:line:col off the message, even when the file name holds colons', () => {
    expect(problemOf('/srv/a:b/registry.yaml:12:5: bad kind', 'INVALID')).toEqual({
      file: '/srv/a:b/registry.yaml',
      line: 12,
      column: 5,
      code: 'INVALID',
      message: 'bad kind',
    });
  });

  it('uses the position it is given when the message has none', () => {
    expect(problemOf('port in use', 'REJECTED', { file: '/srv/r.yaml', line: 3, column: 5, entryId: 'app:a' })).toEqual(
      {
        file: '/srv/r.yaml',
        line: 3,
        column: 5,
        code: 'REJECTED',
        entryId: 'app:a',
        message: 'port in use',
      },
    );
  });

  it('shows a file below the current directory relative to it', () => {
    expect(problemOf(`${join(process.cwd(), 'registry', 'a.yaml')}:1:2: x`, 'INVALID').file).toBe(
      join('registry', 'a.yaml'),
    );
    expect(shownPath('/elsewhere/a.yaml')).toBe('/elsewhere/a.yaml');
  });
});

describe('orderProblems', () => {
  it('sorts by file, line and column, keeps each problem once, and puts unplaced ones last', () => {
    const problems = [
      problemOf('no position', 'INVALID'),
      problemOf('b.yaml:2:1: second', 'INVALID'),
      problemOf('a.yaml:10:3: late', 'INVALID'),
      problemOf('a.yaml:2:7: early', 'INVALID'),
      problemOf('a.yaml:2:7: early', 'INVALID'),
    ];
    expect(orderProblems(problems).map(formatProblem)).toEqual([
      'a.yaml:2:7: early',
      'a.yaml:10:3: late',
      'b.yaml:2:1: second',
      'no position',
    ]);
  });
});

describe('problemOf, on a message that mentions a position after words', () => {
  it('does not take the words for a file', () => {
    const problem = problemOf('invalid configuration of entry app:a at /srv/r.yaml:26:5: 1 issue', 'REJECTED', {
      file: '/srv/r.yaml',
      line: 26,
      column: 5,
    });
    expect(problem).toMatchObject({
      file: '/srv/r.yaml',
      line: 26,
      column: 5,
      message: 'invalid configuration of entry app:a: 1 issue',
    });
  });
});
