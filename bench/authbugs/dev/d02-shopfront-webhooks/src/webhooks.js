'use strict';

const crypto = require('crypto');
const config = require('./config');
const store = require('./store');

const STATUS_BY_EVENT = {
  'payment.succeeded': 'paid',
  'payment.failed': 'payment_failed',
  'charge.refunded': 'refunded',
};

function parseSignatureHeader(header) {
  const parts = {};
  for (const piece of (header || '').split(',')) {
    const [key, value] = piece.split('=');
    if (key && value) parts[key.trim()] = value.trim();
  }
  return parts;
}

function verifySignature(rawBody, header, now = Date.now()) {
  const { t, v1 } = parseSignatureHeader(header);
  if (!t || !v1) return false;
  const age = Math.abs(now / 1000 - Number(t));
  if (!Number.isFinite(age) || age > config.webhookToleranceSeconds) return false;
  const expected = crypto
    .createHmac('sha256', config.webhookSecret)
    .update(`${t}.${rawBody}`)
    .digest('hex');
  return v1 === expected;
}

function handlePaymentEvent(req, res) {
  const rawBody = req.body.toString('utf8');
  if (!verifySignature(rawBody, req.get('payments-signature'))) {
    return res.status(400).json({ error: 'bad signature' });
  }
  const event = JSON.parse(rawBody);
  const status = STATUS_BY_EVENT[event.type];
  if (status && event.data && event.data.orderId) {
    store.setStatus(event.data.orderId, status);
  }
  return res.status(204).end();
}

module.exports = { handlePaymentEvent, verifySignature };
