/**
 * POST /echo — sends the request body back, with its content type.
 *
 * @param {{ body: unknown, headers: Record<string, string | string[] | undefined> }} request
 */
export function echo(request) {
  return { body: { received: request.body ?? null, type: request.headers['content-type'] ?? null } };
}
