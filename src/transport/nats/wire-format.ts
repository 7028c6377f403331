/**
 * The event envelope on the wire: the header every version shares ({@link WIRE_VERSION}), the
 * encoder and the decoder.
 */
export { WIRE_VERSION } from './wire-header.js';
export {
  batchBytes,
  dataJSON,
  encodeEnvelope,
  encodeEnvelopes,
  envelopeText,
  kept,
  keptData,
  plainEnvelopeText,
  plainRunHead,
  plainRunText,
  plainText,
  UNKEPT,
} from './wire-encoder.js';
export { EnvelopeDecoder, decodeEnvelope, decodeEnvelopes } from './wire-decoder.js';
