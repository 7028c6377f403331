/**
 * GET / — says which process answered: each replica is its own process, serving the same registry.
 */
export function hello() {
  return { body: { message: 'hello from a replica', pid: process.pid } };
}
