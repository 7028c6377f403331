import { KindlingError, messageOf } from './errors.js';
import { escapeInvisible } from './visible-text.js';
import { activeTraceIds } from '../telemetry/telemetry.js';

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger Kindling writes to. Any object with these four methods will do (pino, console...). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A level a line can be written at. */
type LineLevel = Exclude<LogLevel, 'silent'>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Repeats of a line within this many ms are counted rather than written, unless told otherwise. */
export const REPEAT_WINDOW_MS = 10_000;
/** Lines of at most this many templates are written per window, unless told otherwise. */
export const MAX_TEMPLATES_PER_WINDOW = 1000;
/** The console logger writes this many lines of one template per window before it counts them, unless told otherwise. */
export const REPEATS_PER_WINDOW = 10;
/** A longer log line is cut, unless told otherwise. */
export const MAX_LINE_CHARS = 16_384;

/** What a repeat is recognised by, and what its summary quotes: the start of the message. */
const SAMPLE_CHARS = 512;

/** `10 s` for 10 000 ms, `250 ms` for 250. */
function span(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Numbers and quoted text vary between repeats of one message template; the rest is the template. */
const VARYING = /"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|`[^`\n]*`|\d+/g;

function templateOf(message: string): string {
  return message.slice(0, SAMPLE_CHARS).replace(VARYING, '#');
}

interface Repeats {
  readonly level: LineLevel;
  readonly sample: string;
  written: number;
  count: number;
}

/**
 * Windows of `windowMs`: the first `repeats` lines of each key in a window are written, the rest are
 * counted, and when the window ends one summary line per key says how many were not written. At
 * most `maxLines` keys are written per window; lines of the others are counted together. The table
 * of keys is emptied at each window, so it never holds more than `maxLines` of them.
 */
class RepeatWindow {
  private readonly seen = new Map<string, Repeats>();
  private started = Number.NEGATIVE_INFINITY;
  private lines = 0;
  private overflow = 0;
  private overflowLevel: LineLevel = 'debug';
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly maxLines: number,
    private readonly repeats: number,
    private readonly emit: (level: LineLevel, text: string) => void,
  ) {}

  /** Whether the line should be written now; `false` when it was counted instead. */
  admit(level: LineLevel, key: string, message: string): boolean {
    if (this.windowMs <= 0) return true;
    const now = Date.now();
    if (now - this.started >= this.windowMs) this.roll(now);
    const seen = this.seen.get(key);
    if (seen !== undefined) {
      if (seen.written < this.repeats) {
        seen.written++;
        return true;
      }
      seen.count++;
      this.arm();
      return false;
    }
    if (this.lines >= this.maxLines) {
      this.overflow++;
      if (RANK[level] > RANK[this.overflowLevel]) this.overflowLevel = level;
      this.arm();
      return false;
    }
    this.lines++;
    this.seen.set(key, { level, sample: message.slice(0, SAMPLE_CHARS), written: 1, count: 0 });
    return true;
  }

  /** Writes the summaries of the window now and starts a new one. */
  roll(now = Date.now()): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const last = span(this.windowMs);
    for (const seen of this.seen.values()) {
      if (seen.count > 0)
        this.safeEmit(seen.level, `… ${count(seen.count)} more like this in the last ${last}: ${seen.sample}`);
    }
    if (this.overflow > 0) {
      this.safeEmit(
        this.overflowLevel,
        `… ${count(this.overflow)} more lines of other kinds in the last ${last} were not written (lines of ${count(this.maxLines)} kinds at most per ${last})`,
      );
    }
    this.seen.clear();
    this.lines = 0;
    this.overflow = 0;
    this.overflowLevel = 'debug';
    this.started = now;
  }

  /** Summaries are due when the window ends even if nothing else is logged; the timer never keeps the process alive. */
  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.roll(), Math.max(0, this.started + this.windowMs - Date.now()));
    this.timer.unref?.();
  }

  private safeEmit(level: LineLevel, text: string): void {
    try {
      this.emit(level, text);
    } catch {
      // A logger that throws from a timer would end the process; the summary is lost instead.
    }
  }
}

/** Options of {@link createConsoleLogger}; every limit has a default. */
export interface ConsoleLoggerOptions {
  /**
   * Lines of one message template (the same level and text, numbers and quoted text aside) past the
   * first `repeatsPerWindow` within this many ms are counted, not written; when the window ends one
   * line says how many (`… 999,990 more like this in the last 10 s: <message>`). Default 10 000;
   * `0` writes every line.
   */
  readonly repeatWindowMs?: number;
  /** How many lines of one template are written per window before the rest are counted (default 10). */
  readonly repeatsPerWindow?: number;
  /** Lines of at most this many templates are written per window; lines of others are counted (default 1 000). */
  readonly maxTemplatesPerWindow?: number;
  /** A longer line is cut, saying how many characters were left out (default 16 384). */
  readonly maxLineChars?: number;
  /** Where each line goes, with its line break (default: `process.stderr`). */
  readonly write?: (line: string) => void;
}

function positiveInteger(value: number, name: string, zeroAllowed: boolean): number {
  if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new KindlingError(
      'INVALID',
      `${name} must be a whole number ≥ ${zeroAllowed ? 0 : 1}, got ${String(value)}`,
      { details: { [name]: value } },
    );
  }
  return value;
}

/**
 * A logger that writes one line per message to stderr, dropping messages below `level`. Control
 * and invisible characters are escaped ({@link escapeInvisible}), so no message can forge a line or
 * hide text; long lines are cut; repeats within a window are counted and summarised instead of written
 * (see {@link ConsoleLoggerOptions}).
 *
 * @example
 * const logger = createConsoleLogger('info', 'my-app', { repeatWindowMs: 60_000 });
 */
export function createConsoleLogger(
  level: LogLevel = 'info',
  prefix = 'kindling',
  options: ConsoleLoggerOptions = {},
): Logger {
  const maxLineChars = positiveInteger(options.maxLineChars ?? MAX_LINE_CHARS, 'maxLineChars', false);
  const windowMs = positiveInteger(options.repeatWindowMs ?? REPEAT_WINDOW_MS, 'repeatWindowMs', true);
  const maxLines = positiveInteger(
    options.maxTemplatesPerWindow ?? MAX_TEMPLATES_PER_WINDOW,
    'maxTemplatesPerWindow',
    false,
  );
  const repeatsPerWindow = positiveInteger(options.repeatsPerWindow ?? REPEATS_PER_WINDOW, 'repeatsPerWindow', false);
  const write = options.write ?? ((line: string): void => void process.stderr.write(line));
  const head = `[${escapeInvisible(prefix)}]`;
  const print = (at: LineLevel, text: string): void => {
    write(`${head} ${at.padEnd(5)} ${escapeInvisible(text, maxLineChars)}\n`);
  };
  const repeats = new RepeatWindow(windowMs, maxLines, repeatsPerWindow, print);
  const line =
    (at: LineLevel) =>
    (message: string, fields?: LogFields): void => {
      if (RANK[at] < RANK[level]) return;
      const text = typeof message === 'string' ? message : messageOf(message);
      if (!repeats.admit(at, `${at} ${templateOf(text)}`, text)) return;
      const all = withTrace(fields);
      print(at, all === undefined || isEmpty(all) ? text : `${text} ${safeJson(all)}`);
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/**
 * The fields with the trace and span id of the active span (`traceId`, `spanId`), when an
 * OpenTelemetry SDK is registered and a span is active (docs/telemetry.md).
 */
function withTrace(fields: LogFields | undefined): LogFields | undefined {
  const ids = activeTraceIds();
  return ids === undefined ? fields : { ...fields, traceId: ids.traceId, spanId: ids.spanId };
}

function isEmpty(fields: LogFields): boolean {
  try {
    for (const _ in fields) return false;
    return true;
  } catch {
    return false;
  }
}

function safeJson(fields: LogFields): string {
  try {
    return (
      JSON.stringify(fields, (_key, value: unknown) =>
        value instanceof Error
          ? { name: value.name, message: messageOf(value) }
          : typeof value === 'bigint'
            ? `${value}n`
            : value,
      ) ?? '[unserialisable fields]'
    );
  } catch {
    return '[unserialisable fields]';
  }
}

/** Options of a {@link LogThrottle}; every limit has a default. */
export interface LogThrottleOptions {
  /** The length of a window in ms (default 10 000); `0` writes every line. */
  readonly windowMs?: number;
  /** Lines of one key written per window before the rest are counted (default 1). */
  readonly linesPerWindow?: number;
  /** Keys written per window; lines of further keys are counted together (default 1 000). */
  readonly maxKeys?: number;
}

/**
 * Counts a storm where it starts (undecodable messages, refused sends, presence floods, refused
 * requests, faults): the first `linesPerWindow` lines of each key in a window go to the logger,
 * the rest are counted, and when the window ends one line says how many there were (`… 20,000
 * more like this in the last 10 s: <first line>`). Works with any {@link Logger}; at most
 * `maxKeys` keys are tracked per window. Its one timer never keeps the process alive.
 *
 * @example
 * const storms = new LogThrottle(logger, { windowMs: 60_000, linesPerWindow: 10 });
 * storms.warn('undecodable', `an undecodable message on ${subject}: ${reason}`);
 */
export class LogThrottle {
  private readonly repeats: RepeatWindow;

  constructor(
    private readonly logger: Logger,
    options: LogThrottleOptions = {},
  ) {
    const windowMs = positiveInteger(options.windowMs ?? REPEAT_WINDOW_MS, 'windowMs', true);
    const linesPerWindow = positiveInteger(options.linesPerWindow ?? 1, 'linesPerWindow', false);
    const maxKeys = positiveInteger(options.maxKeys ?? MAX_TEMPLATES_PER_WINDOW, 'maxKeys', false);
    this.repeats = new RepeatWindow(windowMs, maxKeys, linesPerWindow, (level, text) => this.logger[level](text));
  }

  /** Logs `message` at `level` unless `key` has used up its lines in this window (then it is counted). */
  log(level: LineLevel, key: string, message: string, fields?: LogFields): void {
    if (this.repeats.admit(level, key, message)) this.logger[level](message, withTrace(fields));
  }

  /** {@link log} at `warn`. */
  warn(key: string, message: string, fields?: LogFields): void {
    this.log('warn', key, message, fields);
  }

  /** {@link log} at `error`. */
  error(key: string, message: string, fields?: LogFields): void {
    this.log('error', key, message, fields);
  }

  /** Writes the counts of this window now (at a stop) and starts a new window. */
  flush(): void {
    this.repeats.roll();
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});
