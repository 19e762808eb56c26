'use strict';

const orders = new Map();
let nextId = 1;

function createOrder({ customerId, items }) {
  const order = {
    id: String(nextId++),
    customerId,
    items,
    status: 'pending',
    createdAt: new Date().toISOString(),
  };
  orders.set(order.id, order);
  return order;
}

function getOrder(id) {
  return orders.get(String(id)) || null;
}

function setStatus(id, status) {
  const order = orders.get(String(id));
  if (!order) return null;
  order.status = status;
  order.updatedAt = new Date().toISOString();
  return order;
}

function listOrders() {
  return Array.from(orders.values());
}

module.exports = { createOrder, getOrder, setStatus, listOrders };
