'use strict';

const Koa = require('koa');
const bodyParser = require('koa-bodyparser');
const session = require('koa-session');
const { Directory } = require('./directory');
const router = require('./routes');

const app = new Koa();
app.keys = [process.env.PAYROLL_COOKIE_KEY].filter(Boolean);
if (!app.keys.length) throw new Error('PAYROLL_COOKIE_KEY missing');

const directory = new Directory();
const payslips = [];
const runs = [];

app.use(session({ key: 'payroll', httpOnly: true, secure: true, sameSite: 'strict', maxAge: 30 * 60 * 1000 }, app));
app.use(bodyParser({ jsonLimit: '16kb' }));
app.use(async (ctx, next) => {
  Object.assign(ctx.state, { directory, payslips, runs });
  await next();
});
app.use(router.routes()).use(router.allowedMethods());

if (require.main === module) app.listen(Number(process.env.PORT || 3700));
module.exports = app;
