/**
 * The confirmations listener: tells the customer their order was taken (here, a log line). It runs
 * for `order.created`, which is emitted, not broadcast: one member of the group handles each order,
 * on one node of a cluster, so each customer is told once.
 */
export function confirmOrder(order, ctx) {
  ctx.logger.info(`confirmation of ${order.id} sent to ${order.customer}`);
}
