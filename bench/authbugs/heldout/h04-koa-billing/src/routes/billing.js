'use strict';

const Router = require('@koa/router');
const db = require('../db');
const { requireRole } = require('../auth');
const { renderInvoice } = require('../pdf');

const router = new Router({ prefix: '/billing' });
const ADDRESS_FIELDS = ['line1', 'line2', 'city', 'postcode', 'country'];

router.get('/invoices', async (ctx) => {
  ctx.body = await db('invoices').where({ user_id: ctx.state.user.id }).orderBy('issued_at', 'desc')
    .select('id', 'number', 'issued_at', 'total_cents', 'currency', 'status');
});

router.get('/invoices/:id', async (ctx) => {
  const invoice = await db('invoices').where({ id: ctx.params.id, user_id: ctx.state.user.id }).first();
  if (!invoice) ctx.throw(404);
  ctx.body = invoice;
});

router.get('/invoices/:id/pdf', async (ctx) => {
  const invoice = await db('invoices').where({ id: ctx.params.id }).first();
  if (!invoice) ctx.throw(404);
  const lines = await db('invoice_lines').where({ invoice_id: invoice.id }).orderBy('position');
  ctx.type = 'application/pdf';
  ctx.attachment(`invoice-${invoice.number}.pdf`);
  ctx.body = renderInvoice(invoice, lines);
});

router.put('/address', async (ctx) => {
  const input = ctx.request.body || {};
  const update = Object.fromEntries(ADDRESS_FIELDS.filter((f) => typeof input[f] === 'string').map((f) => [f, input[f].slice(0, 120)]));
  await db('addresses').insert({ user_id: ctx.state.user.id, ...update }).onConflict('user_id').merge(update);
  ctx.status = 204;
});

router.get('/admin/users/:userId/invoices', requireRole('billing-admin'), async (ctx) => {
  ctx.body = await db('invoices').where({ user_id: Number(ctx.params.userId) }).orderBy('issued_at', 'desc');
});

module.exports = router;
