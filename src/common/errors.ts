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
 * The one base error of Kindling: a code from {@link ErrorCode}, a message that says what and where,
 * optional `details` for machines and a `retryable` flag.
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
}

/** Whether `error` is a {@link KindlingError}, optionally of one code. */
export function isKindlingError(error: unknown, code?: ErrorCode): error is KindlingError {
  return error instanceof KindlingError && (code === undefined || error.code === code);
}

/** The code of an error when it carries one (Kindling's or any error with a string `code`). */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** A readable one-line message for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
