'use strict';

const express = require('express');
const db = require('../db');
const reset = require('../services/passwordReset');
const verification = require('../services/emailVerification');

const router = express.Router();

function userByEmail(email) {
  for (const user of db.users.values()) if (user.email === String(email || '').toLowerCase()) return user;
  return null;
}

router.post('/password/forgot', (req, res) => {
  const user = userByEmail(req.body.email);
  if (user) req.app.locals.mailer.send(user.email, 'reset', { token: reset.startReset(user.id) });
  res.status(202).json({ message: 'If the address is registered you will get an email.' });
});

router.post('/password/reset', async (req, res) => {
  const { token, password } = req.body || {};
  if (typeof password !== 'string' || password.length < 10) return res.status(400).json({ error: 'password too short' });
  if (!(await reset.completeReset(token, password))) return res.status(400).json({ error: 'link invalid or expired' });
  return res.json({ ok: true });
});

router.get('/verify/:token', (req, res) => {
  if (!verification.confirm(req.params.token)) return res.status(400).send('This link is no longer valid.');
  return res.redirect('/welcome');
});

module.exports = router;
