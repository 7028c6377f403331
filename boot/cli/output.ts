import { styleText } from 'node:util';
import { escapeInvisible, messageOf } from 'kindling';

/**
 * `text` escaped with `escapeInvisible` line by line, its line feeds kept: for text that is
 * several lines by design, such as an error message.
 */
export function escapeLines(text: string): string {
  return text
    .split('\n')
    .map((line) => escapeInvisible(line))
    .join('\n');
}

/** The sequences the CLI itself writes: line feeds, the colours of {@link createStyle}, and the progress line's erase. */
const OWN_SEQUENCES = /(\n|\x1b\[(?:1|2|22|31|32|33|39)m|\r\x1b\[2K)/;

/**
 * Wraps a writer so that everything written through it is escaped with `escapeInvisible`, except
 * the line feeds, colours and progress sequences the CLI writes itself: the last line of defence
 * for any value that reached a line unescaped.
 */
export function terminalSafe(write: (text: string) => void): (text: string) => void {
  return (text) =>
    write(
      text
        .split(OWN_SEQUENCES)
        .map((part, i) => (i % 2 === 1 ? part : escapeInvisible(part)))
        .join(''),
    );
}

/** `messageOf` the error, escaped for a terminal with its line feeds kept: what the CLI prints for an error. */
export function describeError(error: unknown): string {
  return escapeLines(messageOf(error));
}

/** The colours of the CLI's output; plain text when colour is off. */
export interface Style {
  readonly create: (text: string) => string;
  readonly update: (text: string) => string;
  readonly remove: (text: string) => string;
  readonly error: (text: string) => string;
  readonly warn: (text: string) => string;
  readonly ok: (text: string) => string;
  readonly dim: (text: string) => string;
  readonly bold: (text: string) => string;
}

type Format = Parameters<typeof styleText>[0];

/**
 * A {@link Style} that colours with `node:util` `styleText` when `enabled`, and leaves text alone
 * otherwise.
 */
export function createStyle(enabled: boolean): Style {
  // The caller decided (colourFor); styleText must not check process.stdout again (it may not be the stream written to).
  const paint = (format: Format) => (text: string) =>
    enabled ? styleText(format, text, { validateStream: false }) : text;
  return {
    create: paint('green'),
    update: paint('yellow'),
    remove: paint('red'),
    error: paint('red'),
    warn: paint('yellow'),
    ok: paint('green'),
    dim: paint('dim'),
    bold: paint('bold'),
  };
}

/**
 * Whether to colour a stream: only a terminal, and only when `NO_COLOR` is unset (no-color.org).
 */
export function colourFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

/** How progress is shown: one updating line (a terminal), plain lines, or not at all. */
export type ProgressMode = 'tty' | 'plain' | 'off';

/** Batches with more entries than this show their progress. */
export const PROGRESS_THRESHOLD = 1_000;

/**
 * The progress of a long command on stderr: phases ("loading 12 files", "planning", "applying
 * 10,000 entries") on one line that rewrites itself on a terminal, or as plain lines otherwise.
 * Nothing is shown until the batch is known to be large (more than {@link PROGRESS_THRESHOLD}
 * entries), except on a terminal, where the line is erased when the command ends.
 */
export class Progress {
  private readonly began = performance.now();
  private large = false;
  private shown = false;
  private pending: string[] = [];

  constructor(
    private readonly write: (text: string) => void,
    private readonly mode: ProgressMode,
  ) {}

  /** Says how many entries the batch has; a large one makes earlier phases visible in plain mode. */
  size(entries: number): void {
    if (this.large || entries <= PROGRESS_THRESHOLD) return;
    this.large = true;
    if (this.mode === 'plain') for (const line of this.pending.splice(0)) this.write(`${line}\n`);
  }

  /** Enters a phase. */
  phase(text: string): void {
    if (this.mode === 'tty') {
      this.write(`\r\x1b[2K${text}…`);
      this.shown = true;
    } else if (this.mode === 'plain') {
      if (this.large) this.write(`${text}\n`);
      else this.pending.push(text);
    }
  }

  /** Ends the progress: for a large batch, `what` and the time it took stay on screen. */
  done(what: string): void {
    const text = `${what} in ${formatDuration(performance.now() - this.began)}`;
    if (this.mode === 'tty' && this.shown) this.write(this.large ? `\r\x1b[2K${text}\n` : '\r\x1b[2K');
    else if (this.mode === 'plain' && this.large) this.write(`${text}\n`);
    this.shown = false;
    this.pending = [];
  }

  /** Erases the progress line (before an error is printed). */
  clear(): void {
    if (this.mode === 'tty' && this.shown) this.write('\r\x1b[2K');
    this.shown = false;
    this.pending = [];
  }
}

/** `1,234`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
