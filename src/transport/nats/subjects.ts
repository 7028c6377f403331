/** Characters a NATS subject token may carry as they are; everything else is escaped. */
const SAFE_TOKEN = /^[A-Za-z0-9_\-$:]+$/;
const encoder = new TextEncoder();

/**
 * Encodes one segment of an event name as a NATS subject token. NATS tokens cannot be empty nor
 * contain spaces, `.`, `*` or `>`: such characters become `~` and two hex digits per UTF-8 byte
 * (`~` itself too), and an empty segment becomes `~`. Names are carried whole in the envelope, so the
 * encoding only has to be injective, not pretty.
 *
 * @example
 * encodeToken('created'); // 'created'
 * encodeToken('a b');     // 'a~20b'
 */
export function encodeToken(segment: string): string {
  if (SAFE_TOKEN.test(segment)) return segment;
  if (segment === '') return '~';
  let out = '';
  for (const ch of segment) {
    if (SAFE_TOKEN.test(ch)) out += ch;
    else for (const byte of encoder.encode(ch)) out += `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The NATS subject of an event name under a prefix and a kind (`emit`, `bcast`, `chan`):
 * every dot-separated segment encoded by {@link encodeToken}.
 *
 * @example
 * nameToSubject('kindling.emit', 'user.created'); // 'kindling.emit.user.created'
 */
export function nameToSubject(base: string, name: string): string {
  let subject = base;
  for (const segment of name.split('.')) subject += `.${encodeToken(segment)}`;
  return subject;
}

/** A pattern mapped onto a NATS subject: `exact` false means the subject is wider and the receiver must filter. */
export interface SubjectPattern {
  readonly subject: string;
  readonly exact: boolean;
}

/**
 * Maps an event-dialect pattern (`*` any run inside a segment, `**` any run across
 * segments, `?` one character) onto the NATS subject that receives at least every matching name.
 * A whole-segment `*` is NATS `*`, a trailing `**` is NATS `>`; a partial-segment wildcard (`user.cr*`,
 * `a?c`) becomes `*` and a `**` that is not a whole last segment becomes `>` from there on, both with
 * `exact: false` — NATS cannot express them, so the receiver filters with the pattern itself.
 *
 * @example
 * patternToSubject('kindling.emit', 'user.*');  // { subject: 'kindling.emit.user.*', exact: true }
 * patternToSubject('kindling.emit', 'user.**'); // { subject: 'kindling.emit.user.>', exact: true }
 * patternToSubject('kindling.emit', 'us*.x');   // { subject: 'kindling.emit.*.x', exact: false }
 */
export function patternToSubject(base: string, pattern: string): SubjectPattern {
  const segments = pattern.split('.');
  let subject = base;
  let exact = true;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    if (segment.includes('**')) {
      // `**` matches across dots: NATS `>` from here; exact only as a whole last segment.
      if (!(last && segment === '**')) exact = false;
      return { subject: `${subject}.>`, exact };
    }
    if (segment === '*') {
      subject += '.*';
    } else if (segment.includes('*') || segment.includes('?')) {
      subject += '.*';
      exact = false;
    } else {
      subject += `.${encodeToken(segment)}`;
    }
  }
  return { subject, exact };
}

/**
 * A NATS-safe queue-group name for a balancing slot: the group and the pattern, base64url-encoded
 * (queue names cannot contain spaces and should not contain dots).
 *
 * @example
 * queueName('payments', 'order.*'); // 'cGF5bWVudHMAb3JkZXIuKg'
 */
export function queueName(group: string, pattern: string): string {
  return Buffer.from(`${group}\u0000${pattern}`, 'utf8').toString('base64url');
}

/** A NATS-safe stream or consumer name (letters, digits, `_`, `-`) derived from any text. */
export function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, (ch) => `_${ch.codePointAt(0)?.toString(16) ?? ''}_`);
}
