import { activeTraceIds as fromTelemetry } from './telemetry.js';

/**
 * The trace and span id of the active OpenTelemetry span; `undefined` without one, or without an
 * SDK registered. (A function of its own so that the published declarations name no OpenTelemetry type.)
 */
export function activeTraceIds(): { readonly traceId: string; readonly spanId: string } | undefined {
  return fromTelemetry();
}
