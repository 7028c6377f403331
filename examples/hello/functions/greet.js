/**
 * GET /hello/:name — greets `name`; `?shout=1` shouts.
 *
 * @param {{ params: { name: string }, query: Record<string, string | string[]> }} request
 */
export function greet(request) {
  const message = `Hello, ${request.params.name}!`;
  return { body: { message: request.query.shout === '1' ? message.toUpperCase() : message } };
}
