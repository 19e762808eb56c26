'use strict';

const express = require('express');
const cookieSession = require('cookie-session');
const config = require('./config');
const events = require('./events');
const invites = require('./invites');
const { publicCors, apiCors, adminCors } = require('./middleware/cors');

const app = express();
app.set('trust proxy', 1);
app.use(express.json({ limit: '32kb' }));
app.use(cookieSession({ name: 'cal', keys: config.cookieKeys, httpOnly: true, secure: true, sameSite: 'none' }));

function requireSession(req, res, next) {
  if (!req.session || !req.session.userId) return res.sendStatus(401);
  return next();
}

app.get('/public/feed.json', publicCors, (req, res) => res.json(events.publicFeed()));

app.use('/api', apiCors, requireSession);
app.get('/api/events', (req, res) => res.json(events.ownedBy(req.session.userId)));
app.post('/api/events', (req, res) => {
  const { title, startsAt, endsAt, isPublic } = req.body || {};
  if (!title || !startsAt) return res.status(400).json({ error: 'title and startsAt required' });
  return res.status(201).json(events.create(req.session.userId, { title, startsAt, endsAt, isPublic }));
});
app.delete('/api/events/:id', (req, res) => {
  const event = events.get(req.params.id);
  if (!event || event.ownerId !== req.session.userId) return res.sendStatus(404);
  events.remove(event.id);
  return res.sendStatus(204);
});
app.post('/api/events/:id/invites', (req, res) => {
  const event = events.get(req.params.id);
  if (!event || event.ownerId !== req.session.userId) return res.sendStatus(404);
  const email = String((req.body || {}).email || '');
  if (!email.includes('@')) return res.status(400).json({ error: 'email required' });
  return res.status(201).json({ link: `${config.publicBaseUrl}/invites/${invites.createInvite(event, email)}` });
});
app.post('/api/invites/:token/accept', (req, res) => {
  const eventId = invites.acceptInvite(req.params.token, req.session.email);
  return eventId ? res.json({ eventId }) : res.status(400).json({ error: 'invite not valid' });
});

app.use('/admin', adminCors, requireSession, (req, res, next) => (req.session.isStaff ? next() : res.sendStatus(403)));
app.get('/admin/stats', (req, res) => res.json({ events: events.publicFeed().length }));

if (require.main === module) app.listen(config.port);
module.exports = app;
