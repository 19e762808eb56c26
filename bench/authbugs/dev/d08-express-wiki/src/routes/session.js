'use strict';

const express = require('express');
const users = require('../users');
const { localOr } = require('../redirects');

const router = express.Router();

router.get('/login', (req, res) => {
  res.render('login', { next: req.query.next || '/' });
});

router.post('/login', express.urlencoded({ extended: false }), async (req, res, next) => {
  const user = await users.authenticate(String(req.body.username || ''), String(req.body.password || ''));
  if (!user) return res.status(401).render('login', { error: 'Wrong username or password', next: req.body.next });
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = user.id;
    req.session.org = user.orgs[0];
    req.session.orgs = user.orgs;
    const destination = req.body.next || req.query.next || '/';
    return res.redirect(destination);
  });
});

router.post('/logout', (req, res, next) => {
  const destination = localOr(req.query.next, '/login');
  req.session.destroy((err) => {
    if (err) return next(err);
    res.clearCookie('wiki.sid');
    return res.redirect(destination);
  });
});

router.post('/switch-org', express.urlencoded({ extended: false }), (req, res) => {
  const org = String(req.body.org || '');
  if (!req.session.userId || !(req.session.orgs || []).includes(org)) return res.sendStatus(403);
  req.session.org = org;
  return res.redirect(localOr(req.body.back, `/${org}`));
});

module.exports = router;
