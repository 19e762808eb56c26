'use strict';

const express = require('express');
const crypto = require('crypto');

const router = express.Router();
const issues = new Map();

router.use((req, res, next) => (req.session.writer ? next() : res.sendStatus(401)));

router.post('/', (req, res) => {
  const issue = { id: crypto.randomUUID(), writer: req.session.writer, subject: String(req.body.subject || '').slice(0, 150), body: '', sentAt: null };
  issues.set(issue.id, issue);
  res.status(201).json(issue);
});

router.put('/:id', (req, res) => {
  const issue = issues.get(req.params.id);
  if (!issue || issue.writer !== req.session.writer) return res.sendStatus(404);
  if (issue.sentAt) return res.status(409).json({ error: 'already sent' });
  issue.subject = String(req.body.subject || issue.subject).slice(0, 150);
  issue.body = String(req.body.body || '');
  return res.json(issue);
});

router.get('/', (req, res) => {
  res.json([...issues.values()].filter((i) => i.writer === req.session.writer));
});

module.exports = router;
