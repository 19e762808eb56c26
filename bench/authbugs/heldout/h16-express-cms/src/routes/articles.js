'use strict';

const express = require('express');
const audit = require('../audit');

const router = express.Router();
const articles = new Map();
let nextId = 1;

const canEdit = (user, article) => article.authorId === user.id || ['editor', 'admin'].includes(user.role);

router.post('/articles', (req, res) => {
  const article = { id: nextId++, authorId: req.user.id, title: String(req.body.title || 'Untitled'), body: '', status: 'draft' };
  articles.set(article.id, article);
  res.status(201).json(article);
});

router.put('/articles/:id', (req, res) => {
  const article = articles.get(Number(req.params.id));
  if (!article) return res.sendStatus(404);
  if (!canEdit(req.user, article)) return res.sendStatus(403);
  article.title = String(req.body.title || article.title);
  article.body = String(req.body.body || article.body);
  return res.json(article);
});

router.post('/articles/:id/publish', (req, res) => {
  if (!['editor', 'admin'].includes(req.user.role)) return res.sendStatus(403);
  const article = articles.get(Number(req.params.id));
  if (!article) return res.sendStatus(404);
  article.status = 'published';
  audit.record(req.user, 'publish', article.id);
  return res.json(article);
});

module.exports = router;
