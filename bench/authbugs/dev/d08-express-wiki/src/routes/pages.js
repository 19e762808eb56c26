'use strict';

const express = require('express');
const pages = require('../pages');

const router = express.Router();

function requireLogin(req, res, next) {
  if (!req.session.userId) return res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
  return next();
}

router.get('/wiki/:slug', requireLogin, (req, res) => {
  const page = pages.load(req.session.org, req.params.slug);
  if (!page) return res.status(404).render('missing', { slug: req.params.slug });
  return res.render('page', { page });
});

router.post('/wiki/:slug', requireLogin, express.urlencoded({ extended: false, limit: '200kb' }), (req, res) => {
  const page = pages.save(req.session.org, req.params.slug, String(req.body.body || ''), req.session.userId);
  res.redirect(`/wiki/${encodeURIComponent(page.slug)}`);
});

module.exports = router;
