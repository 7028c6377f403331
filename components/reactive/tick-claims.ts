import type { KV, NatsConnection } from 'nats';
import { messageOf } from 'kindling';
import type { Logger } from 'kindling';
import { claimBucketName, natsToken } from './kinds.js';

/** Decides which node runs a tick: the first to claim it. */
export interface TickClaims {
  /** True when this node won the tick of `timerId` scheduled at `scheduledAt` (epoch ms). */
  claim(timerId: string, scheduledAt: number): Promise<boolean>;
}

/** One process: every tick is this node's. */
export const localClaims: TickClaims = { claim: () => Promise.resolve(true) };

/** How long a claim is kept in the bucket: ticks older than this are never claimed again. */
const CLAIM_TTL_MS = 3_600_000;

/**
 * Tick claims on JetStream KV: a tick is the key `<timer id>.<scheduled ms>`, and KV `create` stores
 * it for the first node only (it refuses a key that exists), so exactly one node runs each tick. The
 * bucket keeps one revision per key for an hour. When JetStream cannot be reached the tick is not
 * run anywhere this node can tell, so this node skips it and logs why: a missed tick, never a
 * doubled one.
 */
export class KvTickClaims implements TickClaims {
  private bucket: Promise<KV> | undefined;

  constructor(
    private readonly connection: () => unknown,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  async claim(timerId: string, scheduledAt: number): Promise<boolean> {
    let kv: KV;
    try {
      kv = await this.open();
    } catch (error) {
      this.logger.warn(
        `timer ${timerId}: tick ${new Date(scheduledAt).toISOString()} skipped: the claim bucket ${claimBucketName(this.prefix)} cannot be opened: ${messageOf(error)}`,
      );
      return false;
    }
    try {
      await kv.create(`${natsToken(timerId)}.${scheduledAt}`, new TextEncoder().encode(String(Date.now())));
      return true;
    } catch (error) {
      // Another node claimed it first: JetStream refuses the create (wrong last sequence).
      if (/wrong last sequence|key exists/i.test(messageOf(error))) return false;
      this.logger.warn(
        `timer ${timerId}: tick ${new Date(scheduledAt).toISOString()} skipped: it could not be claimed: ${messageOf(error)}`,
      );
      return false;
    }
  }

  private open(): Promise<KV> {
    const nc = this.connection() as NatsConnection | undefined;
    if (nc === undefined) return Promise.reject(new Error('the bus is not connected to NATS'));
    this.bucket ??= nc
      .jetstream()
      .views.kv(claimBucketName(this.prefix), { history: 1, ttl: CLAIM_TTL_MS })
      .catch((error: unknown) => {
        this.bucket = undefined;
        throw error;
      });
    return this.bucket;
  }
}
