/**
 * GET / — says what this app serves.
 *
 * @param {{ method: string, path: string }} _request
 */
export function home(_request) {
  return {
    body: {
      app: 'hello',
      try: ['GET /hello/:name', 'POST /echo'],
    },
  };
}
