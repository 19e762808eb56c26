'use strict';

const express = require('express');
const bcrypt = require('bcrypt');
const users = require('../users');
const audit = require('../audit');

const router = express.Router();

router.get('/users', (req, res) => {
  if (req.user.role !== 'admin') return res.sendStatus(403);
  return res.json(users.all().map(users.summary));
});

router.post('/users/:id/suspend', (req, res) => {
  if (req.user.role !== 'admin') return res.sendStatus(403);
  const target = users.get(req.params.id);
  if (!target) return res.sendStatus(404);
  target.suspended = true;
  audit.record(req.user, 'suspend', target.id);
  return res.json(users.summary(target));
});

router.post('/users/:id/mfa/reset', (req, res) => {
  const target = users.get(req.params.id);
  if (!target) return res.sendStatus(404);
  target.mfaSecret = null;
  audit.record(req.user, 'mfa-reset', target.id);
  return res.json(users.summary(target));
});

router.delete('/users/:id', (req, res) => {
  if (req.user.role !== 'admin') return res.sendStatus(403);
  if (Number(req.params.id) === req.user.id) return res.status(400).json({ error: 'cannot delete yourself' });
  if (!users.remove(req.params.id)) return res.sendStatus(404);
  audit.record(req.user, 'delete', Number(req.params.id));
  return res.sendStatus(204);
});

router.post('/me/mfa/reset', async (req, res) => {
  const ok = await bcrypt.compare(String((req.body || {}).password || ''), req.user.passwordHash);
  if (!ok) return res.status(403).json({ error: 'password required' });
  req.user.mfaSecret = null;
  audit.record(req.user, 'mfa-reset-self', req.user.id);
  return res.json(users.summary(req.user));
});

module.exports = router;
