'use strict';

const pages = new Map();

function save(org, slug, body, authorId) {
  const key = `${org}/${slug}`;
  const previous = pages.get(key);
  pages.set(key, { org, slug, body, authorId, revision: previous ? previous.revision + 1 : 1 });
  return pages.get(key);
}

function load(org, slug) {
  return pages.get(`${org}/${slug}`) || null;
}

module.exports = { save, load };
