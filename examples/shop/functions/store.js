// The orders this node has seen, by id: an in-memory view, kept by the orders-view listener. A
// module of its own, so that editing a function file (a new module version) keeps the view.

/** @type {Map<string, { id: string, customer: string, total: number, status: string, error?: string }>} */
export const orders = new Map();
