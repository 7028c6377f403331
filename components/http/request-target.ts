/** The parts of a request target the http component routes on. */
export interface RequestTarget {
  /** The path as sent (still percent-encoded), starting with `/`. */
  readonly path: string;
  /** The query string after `?` (without it), empty when there is none. */
  readonly query: string;
}

/** A request target that cannot be served, and why (a phrase for a 400 answer). */
export interface BadTarget {
  readonly problem: string;
}

// scheme "://" authority, then the rest (RFC 9112 absolute-form; RFC 3986 for the parts).
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/s;
const AUTHORITY = /^(?:[^@]*@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::(\d*))?$/;
// A percent sign not followed by two hex digits.
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * Splits a request target (`request.url`) into path and query without `new URL` (which throws on
 * targets such as `//[/`). Accepts origin-form (`/path?query`) and absolute-form
 * (`http://host:port/path?query`, its authority checked and dropped); refuses asterisk-form,
 * authority-form and anything else, a port outside 0-65535, and percent-encoding that is
 * malformed or does not decode to UTF-8, in the path or in the query.
 */
export function parseRequestTarget(target: string): RequestTarget | BadTarget {
  let rest = target;
  if (!rest.startsWith('/')) {
    const absolute = ABSOLUTE.exec(rest);
    if (absolute === null) {
      return {
        problem:
          rest === '*'
            ? 'the asterisk-form target "*" (server-wide OPTIONS) is not served'
            : 'the request target is neither a path nor an absolute URL',
      };
    }
    const authority = AUTHORITY.exec(absolute[1] as string);
    if (authority === null) return { problem: 'the request target has a malformed host' };
    const port = authority[1];
    if (port !== undefined && port !== '' && Number(port) > 65_535)
      return {
        problem: `the request target has port ${port.length > 6 ? `${port.slice(0, 6)}...` : port}, outside 0-65535`,
      };
    rest = absolute[2] as string;
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  // A fragment is never sent on purpose; drop it rather than route on it.
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const mark = rest.indexOf('?');
  const path = mark === -1 ? rest : rest.slice(0, mark);
  const query = mark === -1 ? '' : rest.slice(mark + 1);
  if (!decodes(path))
    return {
      problem: 'the path has malformed percent-encoding (% must be followed by two hex digits that decode to UTF-8)',
    };
  if (!decodes(query.replaceAll('+', ' ')))
    return {
      problem:
        'the query string has malformed percent-encoding (% must be followed by two hex digits that decode to UTF-8)',
    };
  return { path, query };
}

/** Whether `value` is a {@link BadTarget}. */
export function isBadTarget(value: RequestTarget | BadTarget): value is BadTarget {
  return 'problem' in value;
}

/**
 * The query string as an object (a key given more than once becomes an array), with no prototype
 * so that keys such as `__proto__` are plain keys. Expects a query {@link parseRequestTarget}
 * accepted.
 */
export function parseQuery(query: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (query === '') return result;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = decodeComponent(equals === -1 ? pair : pair.slice(0, equals));
    const value = equals === -1 ? '' : decodeComponent(pair.slice(equals + 1));
    const before = result[key];
    if (before === undefined) result[key] = value;
    else if (Array.isArray(before)) before.push(value);
    else result[key] = [before, value];
  }
  return result;
}

function decodeComponent(text: string): string {
  return decodeURIComponent(text.replaceAll('+', ' '));
}

function decodes(text: string): boolean {
  if (!text.includes('%')) return true;
  if (BAD_ESCAPE.test(text)) return false;
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
