'use strict';

const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);

module.exports = {
  port: Number(process.env.PORT || 3400),
  cookieKeys: list(process.env.CALENDAR_COOKIE_KEYS),
  adminOrigins: new Set(list(process.env.CALENDAR_ADMIN_ORIGINS)),
  publicBaseUrl: process.env.CALENDAR_PUBLIC_URL || 'https://calendar.example.com',
};
