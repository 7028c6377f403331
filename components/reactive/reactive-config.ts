import { Allow, IsIn, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Describe, compilePattern, messageOf } from 'kindling';
import type { ConfigValidationResult } from 'kindling';
import { paramsSchemaProblem } from './params-schema.js';
import { cronSchedule, parseDuration } from './schedule.js';

/** What a timer does with a tick that comes while its function still runs from an earlier one. */
export const OVERLAP_POLICIES = ['skip', 'queue-one', 'allow'] as const;
/** One of {@link OVERLAP_POLICIES}. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** A channel name: dot-separated words of letters, digits, `_` and `-` (one JetStream subject token each). */
const CHANNEL_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Data of an `event.listener` entry: the function called for the events a pattern matches. */
@Describe('Data of an `event.listener` entry: the function called for the events a pattern matches.')
export class EventListenerConfig {
  /** The event name or pattern (`order.created`, `order.*`, `registry.**`). */
  @Describe('The event name or pattern (`order.created`, `order.*`, `registry.**`).')
  @IsString()
  @IsNotEmpty()
  pattern!: string;

  /**
   * The balancing group (default: the entry id): an `emit` reaches one member of each group, on any
   * node; a `broadcast` reaches every member.
   */
  @Describe(
    'The balancing group (default: the entry id): an `emit` reaches one member of each group, on any node; a `broadcast` reaches every member.',
  )
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  group?: string;

  /** The `function.js` entry to call, with the event's payload as input. */
  @Describe("The `function.js` entry to call, with the event's payload as input.")
  @IsString()
  @IsNotEmpty()
  func!: string;

  /** A fastest-validator schema (as Moleculer's event `params`): a payload it refuses is not handed to the function. */
  @Describe(
    "A fastest-validator schema (as Moleculer's event `params`): a payload it refuses is not handed to the function.",
  )
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  /** Refuses a pattern the event dialect refuses, and a params schema fastest-validator cannot compile. */
  validate(): ConfigValidationResult {
    try {
      compilePattern(this.pattern, 'event');
    } catch (error) {
      return { path: 'pattern', message: messageOf(error) };
    }
    const problem = this.params === undefined ? undefined : paramsSchemaProblem(this.params);
    return problem === undefined ? undefined : { path: 'params', message: problem };
  }
}

/** Data of a `channel.consumer` entry: a durable consumer of a channel, calling a function per message. */
@Describe('Data of a `channel.consumer` entry: a durable consumer of a channel, calling a function per message.')
export class ChannelConsumerConfig {
  /** The channel (`payments`, `orders.eu`). */
  @Describe('The channel (`payments`, `orders.eu`).')
  @IsString()
  @Matches(CHANNEL_NAME, {
    message: 'channel must be dot-separated words of letters, digits, "_" and "-", such as "payments"',
  })
  channel!: string;

  /** The consumer group (default: the entry id): each message is handled by one member of each group. */
  @Describe('The consumer group (default: the entry id): each message is handled by one member of each group.')
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_:.-]+$/, { message: 'group must be letters, digits, "_", ":", "." and "-"' })
  group?: string;

  /** The `function.js` entry to call, with the message's data as input; a throw is a failure (retried). */
  @Describe("The `function.js` entry to call, with the message's data as input; a throw is a failure (retried).")
  @IsString()
  @IsNotEmpty()
  func!: string;

  /** How many messages this node handles at once (default 16). */
  @Describe('How many messages this node handles at once (default 16).')
  @IsInt()
  @Min(1)
  @Max(10_000)
  maxInFlight = 16;

  /** Retries after the first failure, before the message is dead-lettered (default 3). */
  @Describe('Retries after the first failure, before the message is dead-lettered (default 3).')
  @IsInt()
  @Min(0)
  @Max(1_000)
  maxRetries = 3;

  /** The first retry delay in ms, doubled at each attempt up to 60 s (default 1 000). */
  @Describe('The first retry delay in ms, doubled at each attempt up to 60 s (default 1 000).')
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  backoff = 1_000;

  /**
   * A `function.js` entry called once a message is given up on (its last attempt failed), with
   * `{ channel, group, id, data, attempts, error }`. The message is kept in the channel's dead
   * letters either way (`kindling channels dead-letters`, re-drivable).
   */
  @Describe(
    "A `function.js` entry called once a message is given up on (its last attempt failed), with `{ channel, group, id, data, attempts, error }`. The message is kept in the channel's dead letters either way (`kindling channels dead-letters`, re-drivable).",
  )
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  deadLetter?: string;
}

/** What both timer kinds share: the function, its input, and the overlap policy. */
@Describe('What both timer kinds share: the function, its input, and the overlap policy.')
export class TimerCommonConfig {
  /** The `function.js` entry to call at each tick. */
  @Describe('The `function.js` entry to call at each tick.')
  @IsString()
  @IsNotEmpty()
  func!: string;

  /** Handed to the function as `input` of `{ timer, scheduledAt, input }`. */
  @Describe('Handed to the function as `input` of `{ timer, scheduledAt, input }`.')
  @Allow()
  input?: unknown;

  /**
   * A tick while the function still runs from the last one: `skip` it (the default), `queue-one`
   * (run once more when the running call ends; further ticks are skipped), or `allow` (run at once,
   * side by side).
   */
  @Describe(
    'A tick while the function still runs from the last one: `skip` it (the default), `queue-one` (run once more when the running call ends; further ticks are skipped), or `allow` (run at once, side by side).',
  )
  @IsIn(OVERLAP_POLICIES)
  overlap: OverlapPolicy = 'skip';
}

/** Data of a `timer.interval` entry: a function called every `every`. */
@Describe('Data of a `timer.interval` entry: a function called every `every`.')
export class TimerIntervalConfig extends TimerCommonConfig {
  /**
   * How often: milliseconds, or `500ms`, `10s`, `5m`, `1h`, `1d` (at least 10 ms). Ticks are aligned
   * on the epoch (every node computes the same ones), not on when the entry was applied.
   */
  @Describe(
    'How often: milliseconds, or `500ms`, `10s`, `5m`, `1h`, `1d` (at least 10 ms). Ticks are aligned on the epoch (every node computes the same ones), not on when the entry was applied.',
  )
  @Allow()
  every!: number | string;

  /** `every` in milliseconds (set by validate). */
  everyMs(): number {
    return parseDuration(this.every);
  }

  /** Refuses an `every` that is not a duration of 10 ms to about 24 days. */
  validate(): ConfigValidationResult {
    try {
      parseDuration(this.every);
      return undefined;
    } catch (error) {
      return { path: 'every', message: messageOf(error) };
    }
  }
}

/** Data of a `timer.cron` entry: a function called on a cron schedule (croner's syntax). */
@Describe("Data of a `timer.cron` entry: a function called on a cron schedule (croner's syntax).")
export class TimerCronConfig extends TimerCommonConfig {
  /** Five fields (minute to weekday), or six with seconds first: `0 * * * *`, `*\/10 * * * * *`. */
  @Describe('Five fields (minute to weekday), or six with seconds first: `0 * * * *`, `*/10 * * * * *`.')
  @IsString()
  @IsNotEmpty()
  cron!: string;

  /** The IANA time zone the expression is read in (default: the process's). */
  @Describe("The IANA time zone the expression is read in (default: the process's).")
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  timezone?: string;

  /** Refuses an expression or a time zone croner refuses. */
  validate(): ConfigValidationResult {
    try {
      cronSchedule(this.cron, this.timezone);
      return undefined;
    } catch (error) {
      return { path: 'cron', message: messageOf(error) };
    }
  }
}
