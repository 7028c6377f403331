import { orders } from './store.js';

/** The counts of this node's view by status, and the revenue paid. */
function summarize() {
  const counts = { pending: 0, paid: 0, failed: 0 };
  let revenue = 0;
  for (const order of orders.values()) {
    counts[order.status] = (counts[order.status] ?? 0) + 1;
    if (order.status === 'paid') revenue += order.total ?? 0;
  }
  return { orders: orders.size, ...counts, revenue: Math.round(revenue * 100) / 100 };
}

/** The totals timer: logs the counts of this node's view and the revenue, with the tick's time. */
export function reportTotals(tick, ctx) {
  const { orders: count, paid, pending, failed, revenue } = summarize();
  const label = tick.input?.label === undefined ? 'totals' : `totals (${tick.input.label})`;
  ctx.logger.info(
    `${label} at ${tick.scheduledAt}: ${count} orders (paid ${paid}, pending ${pending}, failed ${failed}), revenue ${revenue.toFixed(2)}`,
  );
}

/**
 * GET /totals — the same counts as JSON. Not declared in registry/: the README's cluster walk-through
 * adds it to a running cluster with `kindling apply`.
 */
export function getTotals() {
  return { body: summarize() };
}
