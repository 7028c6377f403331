import { messageOf } from 'kindling';
import type { Logger } from 'kindling';
import type { OverlapPolicy } from './reactive-config.js';
import type { Schedule } from './schedule.js';
import type { TickClaims } from './tick-claims.js';

/** The longest a Node timer waits; a later tick is reached in several waits. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** What a {@link TimerRunner} runs. */
export interface TimerSpec {
  readonly id: string;
  readonly kind: string;
  readonly schedule: Schedule;
  readonly overlap: OverlapPolicy;
  /** Runs the tick scheduled at `scheduledAt` (epoch ms); a rejection is logged. */
  readonly run: (scheduledAt: number) => Promise<unknown>;
}

/**
 * Runs one timer entry: waits for each tick of its schedule, claims it (one node of a cluster runs
 * it), and runs it under the overlap policy. `stop` clears the wait: no tick starts after it; a
 * call already running finishes.
 */
export class TimerRunner {
  private handle: NodeJS.Timeout | undefined;
  private running = 0;
  private queued: number | undefined;
  private stopped = false;
  /** Ticks run, skipped for overlap, and lost to another node. */
  readonly counts = { ran: 0, skipped: 0, claimedElsewhere: 0 };

  constructor(
    private readonly spec: TimerSpec,
    private readonly claims: TickClaims,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.arm(Date.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.queued = undefined;
  }

  private arm(after: number): void {
    if (this.stopped) return;
    const next = this.spec.schedule.next(after);
    if (next === undefined) {
      this.logger.info(`${this.spec.kind} ${this.spec.id}: its schedule has no further tick`);
      return;
    }
    const wait = (): void => {
      const delay = next - Date.now();
      if (delay > MAX_DELAY_MS) {
        this.handle = setTimeout(wait, MAX_DELAY_MS);
        return;
      }
      this.handle = setTimeout(() => this.tick(next), Math.max(0, delay));
    };
    wait();
  }

  private tick(scheduledAt: number): void {
    this.handle = undefined;
    // The next tick is armed first: a slow claim or call never delays the schedule.
    this.arm(Math.max(scheduledAt, Date.now()));
    if (this.running > 0 && this.spec.overlap !== 'allow') {
      if (this.spec.overlap === 'queue-one' && this.queued === undefined) this.queued = scheduledAt;
      else this.skip(scheduledAt);
      return;
    }
    void this.claimAndRun(scheduledAt);
  }

  private skip(scheduledAt: number): void {
    this.counts.skipped++;
    this.logger.debug(
      `${this.spec.kind} ${this.spec.id}: tick ${new Date(scheduledAt).toISOString()} skipped, the last call still runs (overlap: ${this.spec.overlap})`,
    );
  }

  private async claimAndRun(scheduledAt: number): Promise<void> {
    this.running++;
    try {
      if (!(await this.claims.claim(this.spec.id, scheduledAt))) {
        this.counts.claimedElsewhere++;
        return;
      }
      if (this.stopped) return;
      this.counts.ran++;
      await this.spec.run(scheduledAt);
    } catch (error) {
      this.logger.error(
        `${this.spec.kind} ${this.spec.id}: the tick of ${new Date(scheduledAt).toISOString()} failed: ${messageOf(error)}`,
        { entryId: this.spec.id },
      );
    } finally {
      this.running--;
      const queued = this.queued;
      if (queued !== undefined && this.running === 0 && !this.stopped) {
        this.queued = undefined;
        void this.claimAndRun(queued);
      }
    }
  }
}
