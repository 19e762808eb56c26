"""The memory family (context pages): load, store, alloc and free are reserved.

Their handlers go here, registered in HANDLERS, once isa/opcodes.json marks them implemented.
"""

from __future__ import annotations

from babel.verify.ops.base import Handler

HANDLERS: dict[str, Handler] = {}
