'use strict';

const Koa = require('koa');
const Router = require('@koa/router');
const bodyParser = require('koa-bodyparser');
const reset = require('./reset');
const session = require('./session');
const { deliver } = require('./mailer');

const app = new Koa();
const router = new Router();
const transport = { send: async (m) => console.log('mail to', m.to) };
const base = process.env.GYM_PUBLIC_URL || 'https://members.gym.example';

app.use(async (ctx, next) => {
  ctx.state.requestId = `${Date.now().toString(36)}-${process.pid}`;
  ctx.set('X-Request-Id', ctx.state.requestId);
  await next();
});

router.post('/password/forgot', async (ctx) => {
  const token = reset.requestReset(ctx.request.body.email);
  if (token) {
    deliver(transport, { to: ctx.request.body.email, text: `${base}/password/reset?token=${token}` }).catch(() => {});
  }
  ctx.status = 202;
  ctx.body = { message: 'If you are a member, check your email.' };
});

router.post('/password/reset', async (ctx) => {
  const { token, password } = ctx.request.body || {};
  if (typeof password !== 'string' || password.length < 10) ctx.throw(400, 'password too short');
  if (!(await reset.applyReset(token, password))) ctx.throw(400, 'link invalid or expired');
  ctx.body = { ok: true };
});

router.post('/session', async (ctx) => {
  const sid = await session.signIn(ctx.request.body.email, ctx.request.body.password);
  if (!sid) ctx.throw(401, 'email or password not recognised');
  ctx.cookies.set('gym.sid', sid, { httpOnly: true, secure: true, sameSite: 'lax' });
  ctx.body = { ok: true, csrf: reset.csrfToken() };
});

router.delete('/session', async (ctx) => {
  session.signOut(ctx.cookies.get('gym.sid'));
  ctx.cookies.set('gym.sid', null);
  ctx.status = 204;
});

app.use(bodyParser({ jsonLimit: '8kb' }));
app.use(router.routes()).use(router.allowedMethods());

if (require.main === module) app.listen(Number(process.env.PORT || 4100));
module.exports = app;
