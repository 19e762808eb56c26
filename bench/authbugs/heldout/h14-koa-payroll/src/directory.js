'use strict';

class Directory {
  constructor() {
    this.byId = new Map();
  }

  add(employee) {
    this.byId.set(employee.id, { isAdmin: false, ...employee });
  }

  get(id) {
    return this.byId.get(id) || null;
  }

  findByEmail(email) {
    for (const e of this.byId.values()) if (e.email === email) return e;
    return null;
  }
}

module.exports = { Directory };
