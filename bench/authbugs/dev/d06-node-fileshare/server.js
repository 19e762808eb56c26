'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const config = require('./lib/config');
const sessions = require('./lib/sessions');
const users = require('./lib/users');
const links = require('./lib/links');

function readJson(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; if (data.length > 1e5) req.destroy(); });
    req.on('end', () => { try { resolve(JSON.parse(data || '{}')); } catch { resolve({}); } });
  });
}

function cookie(req, name) {
  const match = (req.headers.cookie || '').split(';').map((c) => c.trim().split('=')).find(([k]) => k === name);
  return match ? match[1] : null;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/login') {
    const { username, password } = await readJson(req);
    if (!users.verifyPassword(String(username || ''), String(password || ''))) return send(res, 401, { error: 'denied' });
    const sid = sessions.createSession(username);
    return send(res, 200, { ok: true }, { 'set-cookie': `sid=${sid}; HttpOnly; Secure; SameSite=Strict; Path=/` });
  }
  if (req.method === 'GET' && url.pathname.startsWith('/d/')) {
    const fileId = decodeURIComponent(url.pathname.slice(3));
    if (!links.verifyLink(fileId, url.searchParams.get('e'), url.searchParams.get('s'))) return send(res, 403, { error: 'link invalid' });
    return fs.createReadStream(path.join(config.storageDir, path.basename(fileId))).on('error', () => send(res, 404, {})).pipe(res);
  }
  const session = sessions.getSession(cookie(req, 'sid'));
  if (!session) return send(res, 401, { error: 'sign in' });
  if (req.method === 'POST' && url.pathname === '/links') {
    const { fileId } = await readJson(req);
    return send(res, 201, { url: links.makeLink(path.basename(String(fileId || ''))) });
  }
  if (req.method === 'POST' && url.pathname === '/logout') {
    sessions.destroySession(cookie(req, 'sid'));
    return send(res, 204, {}, { 'set-cookie': 'sid=; Max-Age=0; Path=/' });
  }
  return send(res, 404, { error: 'not found' });
});

setInterval(() => sessions.sweep(), 60 * 1000).unref();

if (require.main === module) server.listen(config.port);
module.exports = server;
