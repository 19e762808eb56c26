"""The model family (the LPU's INF, EVAL, SIM): infer, eval and sim are reserved.

A model op will ask the model a question over an explicit context; its handler goes
here, registered in HANDLERS, once isa/opcodes.json marks it implemented.
"""

from __future__ import annotations

from babel.verify.ops.base import Handler

HANDLERS: dict[str, Handler] = {}
