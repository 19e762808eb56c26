'use strict';

const express = require('express');
const config = require('./config');
const store = require('./store');
const { requireApiToken } = require('./auth');
const { handlePaymentEvent } = require('./webhooks');

const app = express();

app.post('/webhooks/payments', express.raw({ type: 'application/json', limit: '256kb' }), handlePaymentEvent);

app.use('/api', express.json(), requireApiToken);

app.post('/api/orders', (req, res) => {
  const { customerId, items } = req.body || {};
  if (!customerId || !Array.isArray(items) || items.length === 0) {
    return res.status(400).json({ error: 'customerId and items are required' });
  }
  return res.status(201).json(store.createOrder({ customerId, items }));
});

app.get('/api/orders/:id', (req, res) => {
  const order = store.getOrder(req.params.id);
  if (!order) return res.status(404).json({ error: 'not found' });
  return res.json(order);
});

app.get('/api/orders', (req, res) => {
  res.json(store.listOrders());
});

if (require.main === module) {
  app.listen(config.port, () => console.log(`orders listening on ${config.port}`));
}

module.exports = app;
