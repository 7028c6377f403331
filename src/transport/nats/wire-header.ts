import type { DeliveryMode } from '../../events/core/event-envelope.js';

/** The version of the wire envelope this build writes (it still reads version 1). */
export const WIRE_VERSION = 2;
/** @internal The first, object-shaped version; read for nodes not yet upgraded, never written. */
export const LEGACY_VERSION = 1;

/** @internal The delivery modes a version-1 envelope may name. */
export const MODES: readonly DeliveryMode[] = ['emit', 'broadcast', 'broadcastLocal'];
/** @internal The start of a version-2 header line without an extras line, by mode. */
export const MODE_HEADS: Readonly<Record<DeliveryMode, string>> = {
  emit: '2 e ',
  broadcast: '2 b ',
  broadcastLocal: '2 l ',
};
/** @internal The start of a version-2 header line followed by an extras line, by mode. */
export const MODE_HEADS_EXTRAS: Readonly<Record<DeliveryMode, string>> = {
  emit: '2 e+ ',
  broadcast: '2 b+ ',
  broadcastLocal: '2 l+ ',
};
/** @internal The first line of a batch is this and the number of envelopes that follow. */
export const BATCH_HEAD = '2* ';
/**
 * @internal The first line of a plain run is this, then `<count> <mode> <first sequence> <time> <source>`;
 * the data of the `count` events follows as one JSON array.
 */
export const RUN_HEAD = '2= ';
