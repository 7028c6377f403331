import { inspect, types, type InspectOptions } from 'node:util';
import { clipText, escapeInvisible } from './visible-text.js';

/**
 * Every error code Kindling raises, in one map. Callers branch on `error.code`, never on messages.
 */
export const ErrorCode = {
  /** The input is malformed or breaks a rule (bad id, bad YAML, failed validation). */
  INVALID: 'INVALID',
  /** The state is not what the operation expects (an id that exists, a stale revision). */
  CONFLICT: 'CONFLICT',
  /** Something named does not exist (entry, component, dependency). */
  NOT_FOUND: 'NOT_FOUND',
  /** A listener refused an operation, so the batch was refused. */
  REJECTED: 'REJECTED',
  /** A call did not finish within its time limit. */
  TIMEOUT: 'TIMEOUT',
  /** Operations kept failing with NOT_FOUND and no progress was possible. */
  UNRESOLVED: 'UNRESOLVED',
  /** The requested revision is older than the retained history. */
  GONE: 'GONE',
  /** A permission policy denied the action. */
  FORBIDDEN: 'FORBIDDEN',
  /** A command or query was dispatched with no handler registered for it. */
  HANDLER_NOT_FOUND: 'HANDLER_NOT_FOUND',
  /** The caller aborted the operation through its AbortSignal. */
  ABORTED: 'ABORTED',
  /** A service or resource is not reachable now; retrying later may succeed. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** An invariant broke inside Kindling itself. */
  INTERNAL: 'INTERNAL',
} as const;

/** One of the codes in {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options accepted by {@link KindlingError}. */
export interface KindlingErrorOptions {
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly retryable?: boolean;
}

/**
 * The brand every {@link KindlingError} carries on its prototype. `Symbol.for` gives the same symbol
 * to every copy of this module, so two installed copies of Kindling recognise each other's errors
 * where `instanceof` would say no.
 */
const KINDLING_ERROR = Symbol.for('kindling.error');

/**
 * The one base error of Kindling: a code from {@link ErrorCode}, a message that says what and where,
 * optional `details` for machines and a `retryable` flag. Recognise one with
 * {@link KindlingError.is}, which also knows the errors of another installed copy of Kindling (a
 * plugin's own dependency, say), rather than with `instanceof`.
 *
 * @example
 * throw new KindlingError('CONFLICT', `entry ${id} already exists`, { details: { entryId: id } });
 */
export class KindlingError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: KindlingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }

  /**
   * Whether `value` is a Kindling error (of this copy of Kindling or any other), and when `code` is
   * given, one with that code. Never throws: a Proxy is not one (and none of its traps runs), nor is
   * an object whose brand getter throws.
   *
   * @example
   * catch (error) {
   *   if (KindlingError.is(error, 'CONFLICT')) return plan.again();
   *   throw error;
   * }
   */
  static is(value: unknown, code?: ErrorCode): value is KindlingError {
    if (typeof value !== 'object' || value === null || types.isProxy(value)) return false;
    try {
      if ((value as Record<symbol, unknown>)[KINDLING_ERROR] !== true) return false;
      return code === undefined || (value as { code?: unknown }).code === code;
    } catch {
      return false;
    }
  }
}

// On the prototype, not enumerable: the brand never shows in JSON, a log line or `details`.
Object.defineProperty(KindlingError.prototype, KINDLING_ERROR, { value: true });

/** The code of an error when it carries one (Kindling's or any error with a string `code`). */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code: unknown = error.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** How many characters {@link messageOf} returns at most, unless told otherwise. */
export const MESSAGE_MAX_CHARS = 8192;

/** How {@link messageOf} shows a value that is not an error: one line, small, never calling its code. */
const INSPECT: InspectOptions = {
  breakLength: Infinity,
  compact: true,
  depth: 2,
  maxArrayLength: 20,
  maxStringLength: 1000,
  getters: false,
  customInspect: false,
};

/**
 * A readable message for any thrown value, at most `maxChars` long (longer ones are cut, saying how
 * much was left out). Never throws: an error's `message` (its name when the message is empty, a
 * description when it is not a string or its getter throws); a string as it is; anything else
 * described without running its code (no `toString`, getter, `toJSON` or Proxy trap is called),
 * so circular, null-prototype, revoked or hostile objects, symbols and BigInts all read well.
 *
 * @example
 * logger.error(`the handler failed: ${messageOf(error)}`);
 */
export function messageOf(error: unknown, maxChars: number = MESSAGE_MAX_CHARS): string {
  return clipText(describe(error, false), maxChars);
}

/**
 * {@link messageOf} saying what was thrown, on one line, for a log line about a fault: an error's
 * name before its message (`TypeError: x is not a function`), `a thrown <type>:` before anything
 * that is not an error (`a thrown string: boom`, `a thrown object: { code: 1 }`, `a thrown
 * undefined`), cut at `maxChars` and with control and invisible characters escaped
 * (`escapeInvisible`). Never throws and runs no code of the value, like messageOf.
 *
 * @example
 * logger.error(`fault in function ${id}: ${describeThrown(fault)}`);
 */
export function describeThrown(error: unknown, maxChars: number = MESSAGE_MAX_CHARS): string {
  return escapeInvisible(describe(error, true), maxChars);
}

function describe(error: unknown, sayWhat: boolean): string {
  try {
    return readMessage(error, sayWhat);
  } catch {
    return `an unprintable thrown ${typeof error}`;
  }
}

function readMessage(error: unknown, sayWhat: boolean): string {
  // A Proxy's traps could throw or lie (even `instanceof` calls one): inspect shows its target.
  if (
    typeof error !== 'object' ||
    error === null ||
    types.isProxy(error) ||
    !(types.isNativeError(error) || error instanceof Error)
  ) {
    if (!sayWhat) return typeof error === 'string' ? error : inspect(error, INSPECT);
    if (error === undefined || error === null) return `a thrown ${String(error)}`;
    return `a thrown ${typeof error}: ${typeof error === 'string' ? error : inspect(error, INSPECT)}`;
  }
  let message: unknown;
  try {
    message = (error as { message?: unknown }).message;
  } catch {
    return `${nameOf(error)} (its message could not be read)`;
  }
  if (typeof message === 'string')
    return message === '' ? nameOf(error) : sayWhat ? `${nameOf(error)}: ${message}` : message;
  if (message === undefined) return nameOf(error);
  // An error as the message (even the error itself) is named, not inspected: inspecting one reads its message again.
  const described =
    types.isNativeError(message) && !types.isProxy(message) ? `[${nameOf(message)}]` : inspect(message, INSPECT);
  return `${nameOf(error)}: ${described}`;
}

function nameOf(error: object): string {
  try {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  } catch {
    // a throwing name getter: the generic name will do
  }
  return 'Error';
}
