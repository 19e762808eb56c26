'use strict';

const express = require('express');
const members = require('../members');

const router = express.Router();
const posts = [];

router.get('/threads/:id/posts', (req, res) => {
  res.json(posts.filter((p) => p.threadId === req.params.id));
});

router.post('/threads/:id/posts', (req, res) => {
  const member = req.session.memberId ? members.byId(req.session.memberId) : null;
  if (!member) return res.sendStatus(401);
  const text = String((req.body || {}).text || '').trim();
  if (!text) return res.status(400).json({ error: 'empty post' });
  const post = { id: posts.length + 1, threadId: req.params.id, author: member.handle, text: text.slice(0, 10000) };
  posts.push(post);
  member.posts += 1;
  return res.status(201).json(post);
});

module.exports = router;
