import { describe, expect, it } from 'vitest';
import {
  Progress,
  PROGRESS_THRESHOLD,
  colourFor,
  createStyle,
  describeError,
  escapeLines,
  terminalSafe,
} from './output.js';

function recorder(): { write: (text: string) => void; text: () => string } {
  let out = '';
  return { write: (text) => void (out += text), text: () => out };
}

describe('escapeLines', () => {
  it('keeps line feeds and escapes the rest', () => {
    expect(escapeLines('first\nsecond\u001b[1m\r')).toBe('first\nsecond\\u001b[1m\\r');
  });
});

describe('terminalSafe', () => {
  it("keeps the CLI's own line feeds, colours and progress erase, and escapes every other sequence", () => {
    const out = recorder();
    const write = terminalSafe(out.write);
    write(`${createStyle(true).create('+ app:a')}\n\r\u001b[2Kloading\u001b[8mhidden\u001b[2J\n`);
    expect(out.text()).toBe('\u001b[32m+ app:a\u001b[39m\n\r\u001b[2Kloading\\u001b[8mhidden\\u001b[2J\n');
  });
});

describe('describeError', () => {
  it('escapes a message for the terminal, keeping its lines', () => {
    expect(describeError(new Error('bad id app:\u001b[31mred\nsee above'))).toBe(
      'bad id app:\\u001b[31mred\nsee above',
    );
  });
});

describe('colourFor', () => {
  it('colours a terminal', () => {
    expect(colourFor({ isTTY: true }, {})).toBe(true);
  });

  it('leaves a pipe plain', () => {
    expect(colourFor({ isTTY: false }, {})).toBe(false);
  });

  it('leaves a terminal plain when NO_COLOR is set', () => {
    expect(colourFor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
  });
});

describe('createStyle', () => {
  it('adds ANSI colours when enabled', () => {
    expect(createStyle(true).create('+ app:a')).toBe('\x1b[32m+ app:a\x1b[39m');
  });

  it('leaves text alone when disabled', () => {
    expect(createStyle(false).remove('- app:a')).toBe('- app:a');
  });
});

describe('Progress', () => {
  it('prints nothing in plain mode for a small batch', () => {
    const out = recorder();
    const progress = new Progress(out.write, 'plain');
    progress.phase('loading the registry YAML');
    progress.size(PROGRESS_THRESHOLD);
    progress.phase('applying 1,000 changes');
    progress.done('applied 1,000 changes');
    expect(out.text()).toBe('');
  });

  it('prints each phase as a line in plain mode for a large batch, the earlier ones included', () => {
    const out = recorder();
    const progress = new Progress(out.write, 'plain');
    progress.phase('loading the registry YAML');
    progress.size(PROGRESS_THRESHOLD + 1);
    progress.phase('applying 1,001 changes');
    progress.done('applied 1,001 changes');
    expect(out.text()).toMatch(
      /^loading the registry YAML\napplying 1,001 changes\napplied 1,001 changes in \d+ ms\n$/,
    );
  });

  it('rewrites one line on a terminal and keeps only the summary of a large batch', () => {
    const out = recorder();
    const progress = new Progress(out.write, 'tty');
    progress.phase('loading');
    progress.size(PROGRESS_THRESHOLD + 1);
    progress.phase('applying');
    progress.done('applied');
    expect(out.text()).toMatch(/^\r\x1b\[2Kloading…\r\x1b\[2Kapplying…\r\x1b\[2Kapplied in \d+ ms\n$/);
  });

  it('erases its line on a terminal when a small batch is done', () => {
    const out = recorder();
    const progress = new Progress(out.write, 'tty');
    progress.phase('loading');
    progress.done('applied');
    expect(out.text()).toBe('\r\x1b[2Kloading…\r\x1b[2K');
  });

  it('prints nothing when off', () => {
    const out = recorder();
    const progress = new Progress(out.write, 'off');
    progress.size(PROGRESS_THRESHOLD * 10);
    progress.phase('applying');
    progress.done('applied');
    expect(out.text()).toBe('');
  });
});
