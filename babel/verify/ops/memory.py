"""The memory family (context pages): load, store, alloc and free.

Each works on the process's working set through the machine's `memory` (babel.vm.pages
keeps the pages and the table): `load` pages a file's text, or some of its lines, in
through the sandbox's read path, or brings back a page evicted earlier; `store` writes a
value out to a page; `alloc` reserves a page of a size, pinned, for `store page=` to
fill; `free` releases one. The slot holds the page's reference, never its text: a model
op given it as `context` reads the text, faulted in if it is not resident. None of them
touches the workspace (a page is written to the page table, in the state directory).
"""

from __future__ import annotations

import re
from typing import Any

from babel.lang import Diagnostic, Step, as_text
from babel.verify.ops.base import Handler, Machine, Outcome, SkillTable, StepFailure, diag, workspace_path
from babel.verify.policy import Policy

LINES = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
MAX_TOKENS = 1_000_000


def region(raw: Any) -> tuple[int, int] | None:
    """The lines A-B operand as (A, B), or None when it is not one (1 <= A <= B)."""
    found = LINES.match(as_text(raw))
    if found is None:
        return None
    first, last = int(found.group(1)), int(found.group(2))
    return (first, last) if 1 <= first <= last else None


def _pin(args: dict[str, Any]) -> bool:
    return args.get("pin") is True or as_text(args.get("pin")).strip() == "true"


def _page_detail(ref: dict[str, Any]) -> dict[str, Any]:
    return {"page": ref["page"], "source": ref["source"], "tokens": ref["tokens"]}


class Load(Handler):
    op = "load"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        lines = step.args.get("lines")
        if isinstance(lines, str) and region(lines) is None:
            return [diag(step, "E_ARG_INVALID", f"lines={lines!r} is not a range of lines A-B (1 <= A <= B), such as \"10-40\"")]
        return []

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        pin = _pin(args)
        if "page" in args:
            ref = machine.memory.load(args["page"], pin)
        else:
            lines = region(args["lines"]) if "lines" in args else None
            if "lines" in args and lines is None:
                raise StepFailure("invalid_output", f"lines={as_text(args['lines'])!r} is not a range of lines A-B (1 <= A <= B)")
            ref = machine.memory.load_file(workspace_path(machine.policy, args["path"], "read"), lines, pin)
        return Outcome(ref, _page_detail(ref))


class Store(Handler):
    op = "store"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        text = as_text(args["value"])
        if "page" in args:
            ref = machine.memory.fill(args["page"], text)
        else:
            name = as_text(args.get("name", step.id)).strip() or step.id
            ref = machine.memory.store(name, text, _pin(args))
        return Outcome(ref, _page_detail(ref))


class Alloc(Handler):
    op = "alloc"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        tokens = step.args.get("tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            if not 1 <= tokens <= MAX_TOKENS:
                return [diag(step, "E_ARG_INVALID", f"tokens={tokens} is outside 1 to {MAX_TOKENS}")]
            if tokens > policy.budgets.context_tokens:
                return [diag(step, "E_BUDGET_TOKENS", f"tokens={tokens} is more than the working set holds "
                                                      f"(budgets.context_tokens = {policy.budgets.context_tokens})")]
        return []

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        name = as_text(args.get("name", step.id)).strip() or step.id
        ref = machine.memory.alloc(name, int(args["tokens"]))
        return Outcome(ref, _page_detail(ref))


class Free(Handler):
    op = "free"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        ref = machine.memory.free(args["page"])
        return Outcome(None, _page_detail(ref))


HANDLERS: dict[str, Handler] = {h.op: h for h in (Load(), Store(), Alloc(), Free())}
