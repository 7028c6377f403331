import { orders } from './store.js';

/** The totals timer: logs how many orders this node has seen, by status, and the revenue paid. */
export function reportTotals(tick, ctx) {
  const counts = { pending: 0, paid: 0, failed: 0 };
  let revenue = 0;
  for (const order of orders.values()) {
    counts[order.status] = (counts[order.status] ?? 0) + 1;
    if (order.status === 'paid') revenue += order.total ?? 0;
  }
  const label = tick.input?.label === undefined ? 'totals' : `totals (${tick.input.label})`;
  ctx.logger.info(
    `${label}: ${orders.size} orders (paid ${counts.paid}, pending ${counts.pending}, failed ${counts.failed}), revenue ${revenue.toFixed(2)}`,
  );
}
