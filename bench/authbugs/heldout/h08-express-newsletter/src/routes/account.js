'use strict';

const express = require('express');
const bcrypt = require('bcryptjs');
const repo = require('../repo');
const mail = require('../mail');

const router = express.Router();
const base = process.env.STUDIO_PUBLIC_URL || 'https://studio.example.com';

router.post('/signup', async (req, res) => {
  const email = String(req.body.email || '').toLowerCase();
  const password = String(req.body.password || '');
  if (!email.includes('@') || password.length < 10) return res.status(400).json({ error: 'Enter an email and a password of 10+ characters.' });
  if (repo.findWriter(email)) {
    await mail.send(email, 'Someone tried to sign up with your address', 'If this was you, sign in or reset your password.');
  } else {
    const token = repo.addPendingSignup(email, await bcrypt.hash(password, 12));
    await mail.send(email, 'Confirm your address', `${base}/confirm/${token}`);
  }
  return res.status(202).json({ message: 'Check your inbox to continue.' });
});

router.post('/login', async (req, res) => {
  const writer = repo.findWriter(req.body.email);
  if (!writer) {
    return res.status(404).json({ error: 'No account is registered with that email address.' });
  }
  if (!(await bcrypt.compare(String(req.body.password || ''), writer.passwordHash))) {
    return res.status(401).json({ error: 'That password is not right.' });
  }
  return req.session.regenerate((err) => {
    if (err) return res.sendStatus(500);
    req.session.writer = writer.email;
    return res.json({ ok: true });
  });
});

router.post('/password/forgot', async (req, res) => {
  const writer = repo.findWriter(req.body.email);
  if (writer) {
    const token = repo.addResetRequest(writer.email);
    await mail.send(writer.email, 'Reset your password', `${base}/reset/${token}`);
  }
  return res.status(202).json({ message: 'If that address has an account, a reset link is on its way.' });
});

router.post('/logout', (req, res) => {
  req.session.destroy(() => res.clearCookie('studio.sid').sendStatus(204));
});

module.exports = router;
