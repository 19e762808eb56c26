'use strict';

const entries = [];

function record(actor, action, target) {
  entries.push({ at: new Date().toISOString(), actor: actor.id, action, target });
}

module.exports = { record, entries };
