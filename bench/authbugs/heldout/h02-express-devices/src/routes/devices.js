'use strict';

const express = require('express');
const crypto = require('crypto');
const { requireUser } = require('../middleware/requireUser');
const { requireService } = require('../middleware/serviceAuth');

const router = express.Router();
const devices = new Map();

router.post('/devices', requireUser, (req, res) => {
  const name = String((req.body && req.body.name) || '').slice(0, 80);
  if (!name) return res.status(400).json({ error: 'name required' });
  const device = { id: crypto.randomUUID(), ownerId: req.user.id, name, lastSeen: null };
  devices.set(device.id, device);
  return res.status(201).json(device);
});

router.get('/devices', requireUser, (req, res) => {
  res.json([...devices.values()].filter((d) => d.ownerId === req.user.id));
});

router.delete('/devices/:id', requireUser, (req, res) => {
  const device = devices.get(req.params.id);
  if (!device || device.ownerId !== req.user.id) return res.status(404).json({ error: 'not found' });
  devices.delete(device.id);
  return res.sendStatus(204);
});

router.post('/internal/devices/:id/heartbeat', requireService, (req, res) => {
  const device = devices.get(req.params.id);
  if (!device) return res.status(404).json({ error: 'not found' });
  device.lastSeen = new Date().toISOString();
  return res.json({ ok: true, by: req.service });
});

module.exports = router;
