// The JSON spoken over a running app's admin socket (admin-server.ts, admin-client.ts).

import { ErrorCode, KindlingError, messageOf, show } from 'kindling';
import type { ApplyResult, Entry, HistoryRecord, Registry, RegistryOp } from 'kindling';
import type { ChannelPending, DeadLetter, RedriveResult } from 'kindling/events';
import { findInvisible } from '../../src/common/visible-text.js';
import type { JournalInfo } from '../state/durable-state.js';
import { fromWireEntry, toWireEntry, wireObject, wireText } from '../state/wire-entry.js';
import type { WireEntry } from '../state/wire-entry.js';

/** One operation of a batch as it travels. */
export type WireOp =
  | { readonly op: 'create' | 'update'; readonly entry: WireEntry }
  | { readonly op: 'delete'; readonly entry: { readonly id: string } };

/** An error as it travels: `{ code, message, details }`. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where a running app is in its life. */
export type AdminPhase = 'starting' | 'ready' | 'stopping';

/** `GET /status`. */
export interface AdminStatus {
  readonly pid: number;
  readonly name: string;
  readonly appDir: string;
  readonly stateDir: string;
  readonly phase: AdminPhase;
  readonly startedAt: string;
  /** The registry revision (0 while starting). */
  readonly revision: number;
  readonly entries: number;
  readonly journal: AdminJournalInfo;
}

/** What the app found in its journal when it started. */
export type AdminJournalInfo = JournalInfo;

/** `POST /compact`: what the compaction of the journal did. */
export interface AdminCompaction {
  readonly path: string;
  /** The revision the snapshot stands for. */
  readonly revision: number;
  /** Entries in the snapshot (deletions included). */
  readonly entries: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** `GET /entries`: the committed entries and which source applied each one last. */
export interface AdminEntries {
  readonly revision: number;
  readonly entries: readonly WireEntry[];
  /** Entry id → the source of the batch that last created or updated it. */
  readonly owners: Readonly<Record<string, string>>;
}

/** `POST /apply`. */
export interface AdminApplyRequest {
  readonly ops: readonly WireOp[];
  readonly dryRun?: boolean;
  readonly expectRevision?: number;
  readonly source?: string;
  /** In a cluster: every live node dry-runs the batch first, and it is appended only when all accept. */
  readonly allNodes?: boolean;
}

/** `POST /rollback`. */
export interface AdminRollbackRequest {
  readonly revision: number;
  readonly dryRun?: boolean;
  readonly expectRevision?: number;
}

/** `POST /apply` once decoded: operations ready for `registry.apply`. */
export interface DecodedApplyRequest {
  readonly ops: RegistryOp[];
  readonly dryRun: boolean;
  readonly expectRevision?: number;
  readonly source?: string;
  readonly allNodes?: boolean;
}

/** `POST /rollback` once decoded. */
export interface DecodedRollbackRequest {
  readonly revision: number;
  readonly dryRun: boolean;
  readonly expectRevision?: number;
}

/** Default largest number of operations in one `POST /apply`. */
export const DEFAULT_MAX_OPS = 100_000;
/** Default longest `source` label of a `POST /apply`, in characters. */
export const DEFAULT_MAX_SOURCE_LENGTH = 256;

/** What one decoded request may carry. */
export interface RequestLimits {
  /** The most operations of one batch (default {@link DEFAULT_MAX_OPS}). */
  readonly maxOps?: number;
  /** The longest `source` label (default {@link DEFAULT_MAX_SOURCE_LENGTH}). */
  readonly maxSourceLength?: number;
}

/** One change of a batch, without the entry's content. */
export interface WireChange {
  readonly op: 'create' | 'update' | 'delete';
  readonly id: string;
  readonly kind: string;
}

/** What `POST /apply` and `POST /rollback` answer. */
export interface AdminApplyResult {
  readonly revision: number;
  readonly dryRun: boolean;
  readonly changes: readonly WireChange[];
  /** Failures after the point of no return (the batch stayed committed). */
  readonly faults: readonly {
    readonly phase: string;
    readonly name: string;
    readonly entryId?: string;
    readonly message: string;
  }[];
}

/** One batch of `GET /history`. */
export interface WireHistoryRecord {
  readonly revision: number;
  readonly transactionId: string;
  readonly time: string;
  readonly source?: string;
  readonly changes: readonly WireChange[];
}

/** `GET /history`: the retained batches of this run, oldest first. */
export interface AdminHistory {
  readonly revision: number;
  readonly records: readonly WireHistoryRecord[];
  readonly journal: AdminJournalInfo;
}

/** Operations as they travel. */
export function toWireOps(ops: readonly RegistryOp[]): WireOp[] {
  return ops.map((op) =>
    op.op === 'delete'
      ? { op: 'delete', entry: { id: op.entry.id } }
      : { op: op.op, entry: toWireEntry(op.entry as Entry) },
  );
}

/**
 * Operations received over the wire, ready for `registry.apply` (the registry checks them against
 * its state): a list of at most `maxOps` `{ op, entry }`, decoded strictly. Throws `INVALID` naming
 * the operation and the field.
 */
export function fromWireOps(value: unknown, maxOps = DEFAULT_MAX_OPS): RegistryOp[] {
  if (!Array.isArray(value)) throw invalid('ops must be a list of { op, entry } operations');
  if (value.length > maxOps) {
    throw invalid(
      `the batch has ${value.length} operations, more than the ${maxOps} one request may carry (maxOps); apply it in smaller batches, or raise the limit (kindling run --admin-max-ops)`,
      {
        ops: value.length,
        limit: maxOps,
      },
    );
  }
  return value.map((item: unknown, index): RegistryOp => {
    const where = `ops[${index}]`;
    const op = wireObject(item, where, ['op', 'entry']);
    if (op['op'] === 'delete') {
      const entry = wireObject(op['entry'], `${where}.entry`, ['id']);
      return { op: 'delete', entry: { id: wireText(entry['id'], `${where}.entry.id`) } };
    }
    if (op['op'] === 'create' || op['op'] === 'update')
      return { op: op['op'], entry: fromWireEntry(op['entry'], `${where}.entry`) };
    throw invalid(
      `${where}.op must be create, update or delete, not ${op['op'] === undefined ? 'missing' : show(op['op'], 64)}`,
    );
  });
}

/** Decodes the body of `POST /apply` strictly (unknown fields refused); throws `INVALID` naming the field. */
export function decodeApplyRequest(body: unknown, limits: RequestLimits = {}): DecodedApplyRequest {
  const request = wireObject(body, 'the request', ['ops', 'dryRun', 'expectRevision', 'source', 'allNodes']);
  const source = request['source'];
  if (source !== undefined) checkSource(source, limits.maxSourceLength ?? DEFAULT_MAX_SOURCE_LENGTH);
  const allNodes = request['allNodes'];
  if (allNodes !== undefined && typeof allNodes !== 'boolean') throw invalid('allNodes must be true or false');
  return {
    ops: fromWireOps(request['ops'], limits.maxOps ?? DEFAULT_MAX_OPS),
    ...decodeFlags(request),
    ...(source === undefined ? {} : { source: source as string }),
    ...(allNodes === true ? { allNodes } : {}),
  };
}

/** Decodes the body of `POST /rollback` strictly; throws `INVALID` naming the field. */
export function decodeRollbackRequest(body: unknown): DecodedRollbackRequest {
  const request = wireObject(body, 'the request', ['revision', 'dryRun', 'expectRevision']);
  return { revision: revisionNumber(request['revision'], 'revision'), ...decodeFlags(request) };
}

/** Decodes the body of `POST /compact` (an empty object); throws `INVALID` for any field. */
export function decodeCompactRequest(body: unknown): void {
  wireObject(body, 'the request', []);
}

function decodeFlags(request: Record<string, unknown>): { dryRun: boolean; expectRevision?: number } {
  const dryRun = request['dryRun'];
  if (dryRun !== undefined && typeof dryRun !== 'boolean')
    throw invalid(`dryRun must be true or false, not ${show(dryRun, 64)}`);
  const expect = request['expectRevision'];
  return {
    dryRun: dryRun === true,
    ...(expect === undefined ? {} : { expectRevision: revisionNumber(expect, 'expectRevision') }),
  };
}

function checkSource(source: unknown, maxLength: number): void {
  if (typeof source !== 'string' || source.length === 0) throw invalid('source must be a non-empty string');
  if (source.length > maxLength)
    throw invalid(`source is ${source.length} characters long, more than ${maxLength} (maxSourceLength)`);
  const found = findInvisible(source);
  if (found !== undefined) {
    const code = (found.character.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0');
    throw invalid(
      `source must be printable: it has a control or invisible character (U+${code}) at index ${found.index}`,
    );
  }
}

function invalid(message: string, details?: Record<string, unknown>): KindlingError {
  return new KindlingError('INVALID', message, details === undefined ? {} : { details });
}

function revisionNumber(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw invalid(
      `${name} must be a revision number (an integer, 0 or more), not ${value === undefined ? 'missing' : show(value, 64)}`,
    );
  return value as number;
}

/** The changes of a batch, without their content. */
export function toWireChanges(changes: HistoryRecord['changes']): WireChange[] {
  return changes.map((change) => ({ op: change.op, id: change.entry.id, kind: change.entry.kind }));
}

/** An error as it travels; details are kept only as far as they are plain JSON. Never throws. */
export function toWireError(error: unknown): WireError {
  try {
    const code = KindlingError.is(error) ? error.code : 'INTERNAL';
    const details = KindlingError.is(error) ? jsonSafe(error.details) : {};
    return { code, message: messageOf(error), details: (details ?? {}) as Record<string, unknown> };
  } catch {
    // A hostile thrown value (a revoked proxy, a throwing getter) must still become an answer.
    return { code: 'INTERNAL', message: messageOf(error), details: {} };
  }
}

/** The error a wire error stands for, with its code, message and details. */
export function fromWireError(wire: WireError): KindlingError {
  const known = Object.values(ErrorCode) as string[];
  const code = (known.includes(wire.code) ? wire.code : 'INTERNAL') as ErrorCode;
  return new KindlingError(code, wire.message, { details: wire.details });
}

function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(
      JSON.stringify(value, (_key, inner: unknown) => {
        if (inner instanceof Error)
          return { name: inner.name, message: inner.message, ...(KindlingError.is(inner) ? { code: inner.code } : {}) };
        if (typeof inner === 'bigint') return inner.toString();
        return inner;
      }),
    ) as unknown;
  } catch {
    return {};
  }
}

// ---- durable channels ----------------------------------------------------------------------------

/** `POST /dead-letters`: the counts of every channel (dead letters, and pending per group), and the dead letters of one when named. */
export interface AdminDeadLettersRequest {
  readonly channel?: string;
  /** At most this many dead letters of the channel (default 100, at most 10 000). */
  readonly max?: number;
}

/** The answer of `POST /dead-letters`. */
export interface AdminDeadLetters {
  /** Dead letters per channel (channels with none are left out). */
  readonly counts: Readonly<Record<string, number>>;
  /** What each consumer group of each channel has not acknowledged (absent from an app of an older kindling). */
  readonly pending?: readonly ChannelPending[];
  /** The dead letters of the channel asked for, oldest first. */
  readonly letters: readonly DeadLetter[];
}

/** `POST /redrive`: which dead letters of a channel to send again; `all` or a filter is required. */
export interface AdminRedriveRequest {
  readonly channel: string;
  readonly all?: boolean;
  readonly ids?: readonly string[];
  readonly olderThanMs?: number;
  readonly group?: string;
}

/** The answer of `POST /redrive`. */
export type AdminRedriveResult = RedriveResult;

/** The most dead letters one `POST /dead-letters` lists. */
export const MAX_LISTED_DEAD_LETTERS = 10_000;

/** Decodes `POST /dead-letters` strictly. */
export function decodeDeadLettersRequest(body: unknown): AdminDeadLettersRequest {
  const request = wireObject(body, 'the request', ['channel', 'max']);
  const channel = request['channel'] === undefined ? undefined : wireText(request['channel'], 'channel');
  const max = request['max'];
  if (
    max !== undefined &&
    (!Number.isSafeInteger(max) || (max as number) < 1 || (max as number) > MAX_LISTED_DEAD_LETTERS)
  )
    throw invalid(`max must be an integer from 1 to ${MAX_LISTED_DEAD_LETTERS}, not ${show(max, 64)}`);
  return { ...(channel === undefined ? {} : { channel }), ...(max === undefined ? {} : { max: max as number }) };
}

/** Decodes `POST /redrive` strictly: a channel, and `all: true` or at least one filter. */
export function decodeRedriveRequest(body: unknown): AdminRedriveRequest {
  const request = wireObject(body, 'the request', ['channel', 'all', 'ids', 'olderThanMs', 'group']);
  const channel = wireText(request['channel'], 'channel');
  const { all, ids, olderThanMs, group } = request;
  if (all !== undefined && typeof all !== 'boolean') throw invalid(`all must be true or false, not ${show(all, 64)}`);
  if (
    ids !== undefined &&
    (!Array.isArray(ids) || ids.length > 100_000 || ids.some((id) => typeof id !== 'string' || id === ''))
  )
    throw invalid('ids must be a list of non-empty strings (at most 100 000)');
  if (olderThanMs !== undefined && (!Number.isSafeInteger(olderThanMs) || (olderThanMs as number) < 0))
    throw invalid(`olderThanMs must be a non-negative integer, not ${show(olderThanMs, 64)}`);
  if (group !== undefined) wireText(group, 'group');
  if (all !== true && ids === undefined && olderThanMs === undefined && group === undefined)
    throw invalid(
      `say which dead letters of channel ${show(channel, 200)} to re-drive: all, ids, olderThanMs or group`,
    );
  return {
    channel,
    ...(all === true ? { all } : {}),
    ...(ids === undefined ? {} : { ids: ids as string[] }),
    ...(olderThanMs === undefined ? {} : { olderThanMs: olderThanMs as number }),
    ...(group === undefined ? {} : { group: group as string }),
  };
}

/** A registry's apply result as the admin endpoints answer it: changes without content, faults as text. */
export function toAdminResult(result: ApplyResult): AdminApplyResult {
  return {
    revision: result.revision,
    dryRun: result.dryRun,
    changes: toWireChanges(result.changes),
    faults: result.faults.map((fault) => ({
      phase: fault.phase,
      name: fault.name,
      ...(fault.entryId === undefined ? {} : { entryId: fault.entryId }),
      message: messageOf(fault.error),
    })),
  };
}

/** `GET /entries` of a registry: its entries on the wire and which source owns each. */
export function toAdminEntries(registry: Registry, owners: Readonly<Record<string, string>>): AdminEntries {
  return { revision: registry.revision, entries: registry.entries().map(toWireEntry), owners };
}

/** `GET /history` of a registry: its retained batches on the wire, and what its journal held. */
export function toAdminHistory(registry: Registry, journal: AdminJournalInfo): AdminHistory {
  return {
    revision: registry.revision,
    records: registry.historyRecords().map((record) => ({
      revision: record.revision,
      transactionId: record.transactionId,
      time: record.time,
      ...(record.source === undefined ? {} : { source: record.source }),
      changes: toWireChanges(record.changes),
    })),
    journal,
  };
}
