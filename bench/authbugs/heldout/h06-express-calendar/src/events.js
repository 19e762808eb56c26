'use strict';

const crypto = require('crypto');

const events = new Map();

function create(ownerId, { title, startsAt, endsAt, isPublic }) {
  const event = { id: crypto.randomUUID(), ownerId, title, startsAt, endsAt, isPublic: Boolean(isPublic) };
  events.set(event.id, event);
  return event;
}

const ownedBy = (ownerId) => [...events.values()].filter((e) => e.ownerId === ownerId);
const publicFeed = () => [...events.values()].filter((e) => e.isPublic).map(({ ownerId, ...e }) => e);
const get = (id) => events.get(id) || null;
const remove = (id) => events.delete(id);

module.exports = { create, ownedBy, publicFeed, get, remove };
