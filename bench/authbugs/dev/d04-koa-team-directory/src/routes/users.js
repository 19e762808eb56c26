'use strict';

const Router = require('@koa/router');
const bcrypt = require('bcryptjs');
const db = require('../db');
const { pick, publicUser } = require('../util');
const { requireUser, requireAdmin } = require('../middleware/session');

const router = new Router();
const PREFERENCE_KEYS = ['theme', 'digest'];
const ROLES = ['member', 'manager', 'admin'];

router.post('/signup', async (ctx) => {
  const { email, name, password } = ctx.request.body || {};
  if (!email || !name || !password || password.length < 10) ctx.throw(400, 'email, name and password required');
  if (db.findByEmail(email)) ctx.throw(409, 'email already registered');
  const passwordHash = await bcrypt.hash(password, 12);
  const user = db.insertUser({ email, name, passwordHash });
  ctx.session.userId = user.id;
  ctx.status = 201;
  ctx.body = publicUser(user);
});

router.post('/login', async (ctx) => {
  const { email, password } = ctx.request.body || {};
  const user = email ? db.findByEmail(email) : null;
  const ok = user ? await bcrypt.compare(password || '', user.passwordHash) : false;
  if (!ok) ctx.throw(401, 'invalid email or password');
  ctx.session.userId = user.id;
  ctx.body = publicUser(user);
});

router.get('/people', requireUser, async (ctx) => {
  ctx.body = db.allUsers().map((u) => pick(u, ['id', 'name', 'title', 'email']));
});

router.patch('/me', requireUser, async (ctx) => {
  const current = ctx.state.user;
  const updated = { ...current, ...ctx.request.body, id: current.id, updatedAt: new Date().toISOString() };
  if (!updated.name) ctx.throw(400, 'name is required');
  ctx.body = publicUser(db.saveUser(updated));
});

router.patch('/me/preferences', requireUser, async (ctx) => {
  const user = ctx.state.user;
  user.preferences = { ...user.preferences, ...pick(ctx.request.body, PREFERENCE_KEYS) };
  ctx.body = db.saveUser(user).preferences;
});

router.put('/admin/users/:id/role', requireAdmin, async (ctx) => {
  const target = db.findById(ctx.params.id);
  if (!target) ctx.throw(404);
  const { role } = ctx.request.body || {};
  if (!ROLES.includes(role)) ctx.throw(400, 'unknown role');
  target.role = role;
  ctx.body = publicUser(db.saveUser(target));
});

module.exports = router;
