'use strict';

function renderInvoice(invoice, lines) {
  const rows = lines.map((l) => `${l.description}\t${l.quantity}\t${(l.unit_cents / 100).toFixed(2)}`);
  return Buffer.from([`Invoice ${invoice.number}`, `Issued ${invoice.issued_at}`, '', ...rows, '',
    `Total ${(invoice.total_cents / 100).toFixed(2)} ${invoice.currency}`].join('\n'));
}

module.exports = { renderInvoice };
