'use strict';

const Koa = require('koa');
const bodyParser = require('koa-bodyparser');
const session = require('koa-session');
const router = require('./routes/users');
const { loadUser } = require('./middleware/session');

const app = new Koa();
app.keys = (process.env.DIRECTORY_COOKIE_KEYS || '').split(',').filter(Boolean);
if (app.keys.length === 0) throw new Error('DIRECTORY_COOKIE_KEYS must be set');

app.use(session({ key: 'dir.sid', httpOnly: true, sameSite: 'lax', maxAge: 8 * 3600 * 1000 }, app));
app.use(bodyParser({ jsonLimit: '64kb' }));
app.use(loadUser);
app.use(router.routes()).use(router.allowedMethods());

if (require.main === module) app.listen(Number(process.env.PORT || 4000));

module.exports = app;
