// Request and reply over NATS for what is not an event: a cluster's admin requests, answered by one
// node of a queue group or by every node. The rest of the code sees bytes and KindlingErrors.
import { connect, RequestStrategy, type NatsConnection, type Subscription } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';

export type { NatsConnection } from 'nats';

/** Connects to `servers`; a connection that `reconnect`s tries again for as long as it is open. */
export async function connectNats(
  servers: string,
  name: string,
  options: { readonly reconnect: boolean },
): Promise<NatsConnection> {
  try {
    return await connect({
      servers,
      name,
      ...(options.reconnect ? { maxReconnectAttempts: -1, reconnectTimeWait: 250 } : { maxReconnectAttempts: 0 }),
    });
  } catch (error) {
    throw new KindlingError('UNAVAILABLE', `cannot reach NATS at ${servers}: ${messageOf(error)}`, {
      cause: error,
      details: { nats: servers, unreachable: true },
    });
  }
}

/** A subscription that answers requests; unsubscribe to stop. */
export interface Responder {
  unsubscribe(): void;
}

/**
 * Answers every request on `subject` (one member of `queue` each, when given) with what `answer`
 * resolves to; a request without a reply subject is served and not answered. `answer` must not
 * throw: what it resolves to is sent as it is (an answer that cannot be sent goes to `onSendError`).
 */
export function serveRequests(
  connection: NatsConnection,
  subject: string,
  options: { readonly queue?: string; readonly onSendError: (error: unknown) => void },
  answer: (data: Uint8Array) => Promise<Uint8Array>,
): Responder {
  const subscription: Subscription = connection.subscribe(subject, {
    ...(options.queue === undefined ? {} : { queue: options.queue }),
    callback: (error, msg) => {
      if (error !== null) return;
      void answer(msg.data).then((reply) => {
        if (msg.reply === undefined || msg.reply === '') return;
        try {
          msg.respond(reply);
        } catch (sendError) {
          options.onSendError(sendError);
        }
      });
    },
  });
  return { unsubscribe: () => subscription.unsubscribe() };
}

/**
 * Sends one request and resolves with the one answer. `UNAVAILABLE` with `details.noResponders`
 * when nothing listens on `subject`; `TIMEOUT` when nothing answers within `timeoutMs`.
 */
export async function requestOne(
  connection: NatsConnection,
  subject: string,
  data: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  try {
    return (await connection.request(subject, data, { timeout: timeoutMs })).data;
  } catch (error) {
    throw requestError(error, subject, timeoutMs);
  }
}

/**
 * Sends one request to every listener of `subject` and gathers their answers: until `expected`
 * have come (when known), or else until none has come for a while, within `timeoutMs`. Nothing
 * listening is no answers.
 */
export async function requestAll(
  connection: NatsConnection,
  subject: string,
  data: Uint8Array,
  options: { readonly timeoutMs: number; readonly expected?: number },
): Promise<Uint8Array[]> {
  const { timeoutMs, expected } = options;
  const answers: Uint8Array[] = [];
  if (expected === 0) return answers;
  try {
    const replies = await connection.requestMany(subject, data, {
      maxWait: timeoutMs,
      ...(expected === undefined
        ? { strategy: RequestStrategy.JitterTimer, jitter: Math.min(500, timeoutMs) }
        : { strategy: RequestStrategy.Count, maxMessages: expected }),
    });
    for await (const msg of replies) answers.push(msg.data);
  } catch (error) {
    const refused = requestError(error, subject, timeoutMs);
    if (refused.details['noResponders'] !== true) throw refused;
  }
  return answers;
}

function requestError(error: unknown, subject: string, timeoutMs: number): KindlingError {
  const message = messageOf(error);
  if (/503|no responders/i.test(message))
    return new KindlingError('UNAVAILABLE', `nothing answers on ${subject}`, {
      cause: error,
      details: { noResponders: true, subject },
    });
  if (/timeout/i.test(message))
    return new KindlingError('TIMEOUT', `no answer on ${subject} within ${timeoutMs} ms`, {
      cause: error,
      details: { subject },
    });
  return new KindlingError('UNAVAILABLE', `a request on ${subject} failed: ${message}`, { cause: error });
}
