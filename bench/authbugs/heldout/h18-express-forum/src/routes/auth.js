'use strict';

const express = require('express');
const bcrypt = require('bcrypt');
const members = require('../members');

const router = express.Router();

router.post('/login', async (req, res, next) => {
  const member = await members.verify(req.body.handle, req.body.password);
  if (!member) return res.status(401).json({ error: 'Unknown handle or wrong password.' });
  return req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.memberId = member.id;
    return req.session.save(() => res.json({ handle: member.handle }));
  });
});

router.post('/logout', (req, res) => {
  res.clearCookie('forum.sid', { httpOnly: true, secure: true, sameSite: 'lax' });
  res.status(204).end();
});

router.post('/password', async (req, res, next) => {
  const member = req.session.memberId ? members.byId(req.session.memberId) : null;
  if (!member) return res.sendStatus(401);
  if (!(await bcrypt.compare(String(req.body.current || ''), member.passwordHash))) return res.sendStatus(403);
  if (String(req.body.next || '').length < 10) return res.status(400).json({ error: 'too short' });
  member.passwordHash = await bcrypt.hash(req.body.next, 12);
  return req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.memberId = member.id;
    return res.json({ ok: true });
  });
});

router.delete('/account', (req, res, next) => {
  const member = req.session.memberId ? members.byId(req.session.memberId) : null;
  if (!member) return res.sendStatus(401);
  members.members.delete(member.handle.toLowerCase());
  return req.session.destroy((err) => {
    if (err) return next(err);
    res.clearCookie('forum.sid');
    return res.sendStatus(204);
  });
});

module.exports = router;
