'use strict';

module.exports = {
  port: Number(process.env.PORT || 3100),
  maxLoginAttempts: 5,
  lockoutMinutes: 15,
  maxOtpAttempts: 3,
  otpTtlSeconds: 300,
};
