import { randomUUID } from 'node:crypto';
import { orders } from './store.js';

/** What one order line must be. */
function lineProblems(line, at) {
  const problems = [];
  if (typeof line !== 'object' || line === null) return [`${at} must be an object`];
  if (typeof line.sku !== 'string' || line.sku === '') problems.push(`${at}.sku must be a non-empty string`);
  if (!Number.isInteger(line.qty) || line.qty < 1) problems.push(`${at}.qty must be a whole number of at least 1`);
  if (typeof line.price !== 'number' || !(line.price >= 0)) problems.push(`${at}.price must be a number of at least 0`);
  return problems;
}

/**
 * POST /orders — validates an order, emits `order.created`, broadcasts its status to the views and
 * sends the payment to the `payments` channel. Answers 202: the payment happens after the answer.
 *
 * Body: `{ customer: string, card: string, items: [{ sku: string, qty: number, price: number }] }`.
 */
export async function placeOrder(request, ctx) {
  const order = request.body;
  const problems = [];
  if (typeof order !== 'object' || order === null || Array.isArray(order)) {
    problems.push('the body must be a JSON object');
  } else {
    if (typeof order.customer !== 'string' || order.customer === '')
      problems.push('customer must be a non-empty string');
    if (typeof order.card !== 'string' || !/^[0-9 ]{12,23}$/.test(order.card))
      problems.push('card must be a card number');
    if (!Array.isArray(order.items) || order.items.length === 0) problems.push('items must be a non-empty array');
    else order.items.forEach((line, i) => problems.push(...lineProblems(line, `items[${i}]`)));
  }
  if (problems.length > 0) return { status: 400, body: { error: 'invalid order', problems } };

  const id = `ord-${randomUUID().slice(0, 8)}`;
  const total = Math.round(order.items.reduce((sum, line) => sum + line.qty * line.price, 0) * 100) / 100;
  // Emitted: one listener of each group handles it, on one node of a cluster (the confirmation).
  ctx.emit('order.created', { id, customer: order.customer, total });
  // Broadcast: every listener on every node, so that each node's view holds every order.
  ctx.broadcast('order.status', { id, status: 'pending', customer: order.customer, total });
  // Keyed by order: the payments of one order are handled in order. The id makes a retried send a no-op.
  await ctx.channels.send('payments', { orderId: id, amount: total, card: order.card }, { key: id, id });
  ctx.logger.info(`order ${id} placed by ${order.customer}: ${total.toFixed(2)}`);
  return { status: 202, body: { id, status: 'pending', total } };
}

/** GET /orders — this node's view of the orders, by status (`?status=paid` for one status). */
export function listOrders(request) {
  const byStatus = {};
  for (const order of orders.values()) (byStatus[order.status] ??= []).push(order);
  const status = request.query.status;
  if (typeof status === 'string') return { body: { [status]: byStatus[status] ?? [] } };
  return { body: byStatus };
}
