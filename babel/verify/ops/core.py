"""The core family: read, write, grep and exec, the opcodes that touch the workspace.

Each is performed by one executor request (sandbox/executor.py), built here from the
step's resolved operands and the run's policy; the answer becomes the step's value.
"""

from __future__ import annotations

import re
from typing import Any

from babel.lang import Diagnostic, Opcode, SlotRef, Step, as_lines, as_paths, as_text, language, split_units
from babel.verify.ops.base import FactsOf, Handler, Machine, Outcome, SkillTable, StepFacts, StepFailure, answered, diag, int_range, run_int, workspace_path
from babel.verify.policy import NETWORK_TOOLS, Policy, resolve
from babel.verify.shell import CommandLine, quote_argv, read_argv, read_command_line


def limits(policy: Policy) -> dict[str, Any]:
    return {"timeout": float(policy.budgets.step_timeout), "max_output": policy.budgets.output_bytes}


def kernel_rules(policy: Policy) -> dict[str, list[str]]:
    """The part of a policy that the sandbox's kernel enforces for a command (Landlock):
    the roots it may read and write, and the programs it may execute."""
    return {"read": list(policy.read), "write": list(policy.write), "exec": [p for p in policy.exec if p != "*"]}


class Read(Handler):
    op = "read"
    wire = "read"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        policy = machine.policy
        response = machine.send({"op": "read", "args": {"path": workspace_path(policy, args["path"], "read"),
                                                        "encoding": args.get("encoding", "utf-8"), "roots": list(policy.read)},
                                 **limits(policy)})
        return answered(response, response.get("value"))


class Write(Handler):
    op = "write"
    wire = "write"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        value = as_text(args["value"])
        if "path" not in args:  # to a slot: nothing leaves the host
            return Outcome(value)
        policy = machine.policy
        response = machine.send({"op": "write", "args": {"path": workspace_path(policy, args["path"], "write"), "content": value,
                                                         "append": bool(args.get("append", False)), "roots": list(policy.write)},
                                 **limits(policy)})
        return answered(response, value if response.get("status") == "ok" else response.get("value"))


class Grep(Handler):
    op = "grep"
    wire = "grep"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        return [] if step.args.get("fixed") is True else _regexes(step, "pattern")

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        policy = machine.policy
        flags = {key: bool(args.get(key, False)) for key in ("ignore_case", "fixed", "invert")}
        # extraction happens on the host, so the executor must not fail an empty result on its own
        request: dict[str, Any] = {"pattern": as_text(args["pattern"]), **flags, "allow_empty": True, "roots": list(policy.read)}
        if "in" in args:
            request["input"] = as_lines(args["in"])
        else:
            paths = as_paths(args["paths"]) if "paths" in args else ["."]
            request["paths"] = [workspace_path(policy, p, "read") for p in paths]
        response = machine.send({"op": "grep", "args": request, **limits(policy)})
        outcome = answered(response, response.get("value"))
        if outcome.failure:
            return outcome
        try:
            return Outcome(self._post(args, outcome.value), outcome.detail)
        except StepFailure as error:  # the trace keeps what the executor matched
            return Outcome(outcome.value, outcome.detail, error.failure, error.message)
        except re.error as error:
            return Outcome(outcome.value, outcome.detail, "invalid_output", f"cannot run this step: {error}")

    @staticmethod
    def _post(args: dict[str, Any], value: Any) -> Any:
        """`extract` and `allow_empty`, applied on the host to what the executor matched."""
        items = value if isinstance(value, list) else []
        if args.get("extract") and not args.get("invert"):
            flags = re.IGNORECASE if args.get("ignore_case") else 0
            pattern = re.escape(as_text(args["pattern"])) if args.get("fixed") else as_text(args["pattern"])
            regex = re.compile(pattern, flags)
            extracted: list[Any] = []
            for item in items:
                text = item["text"] if isinstance(item, dict) else item
                for match in regex.finditer(text):
                    part = match.group(1) if regex.groups and match.group(1) is not None else match.group(0)
                    extracted.append(part)
            items = extracted
        if not items and not args.get("allow_empty"):
            where = "the input" if "in" in args else "the files searched"
            raise StepFailure("empty_match", f"no line of {where} matches {as_text(args['pattern'])!r}")
        return items


def exec_programs(step: Step) -> CommandLine:
    """What an exec step with literal operands starts and writes."""
    cmd, argv = step.args.get("cmd"), step.args.get("argv")
    if isinstance(cmd, str):
        return read_command_line(cmd)
    if isinstance(argv, list) and argv and isinstance(argv[0], str):
        # argv runs without a shell: no redirections, but the program and any it wraps are read
        # as in a command line; a slot in argv is an argument only known at run time
        return read_argv([a if isinstance(a, str) else None for a in argv])
    # a command only known at run time is treated as writing
    return CommandLine(writes=True, program_writes=True)


class Exec(Handler):
    op = "exec"
    wire = "exec"
    label = "runs"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        if isinstance(step.args.get("cmd"), SlotRef) or isinstance(step.args.get("argv"), SlotRef):
            return [diag(step, "E_EXEC_DYNAMIC", "the command comes from a slot, so it cannot be checked before it runs; write it out in the plan")]
        argv = step.args.get("argv")
        if isinstance(argv, list) and argv and not isinstance(argv[0], str):
            return [diag(step, "E_EXEC_DYNAMIC", "the program (argv[0]) comes from a slot, so the allow-list cannot be checked before it runs; "
                                                 "write the program out in the plan")]
        line = exec_programs(step)
        for problem in line.problems:
            out.append(diag(step, "E_EXEC_UNCHECKABLE", problem))
        allowed = set(policy.exec)
        for program in dict.fromkeys(line.programs):
            if program in NETWORK_TOOLS and not policy.network:
                out.append(diag(step, "E_NETWORK_DENIED", f"{program} needs the network, and this run has none (network is off by policy)"))
            elif program not in allowed:
                out.append(diag(step, "E_EXEC_NOT_ALLOWED", f"{program!r} is not on the exec allow-list; add it with --allow-exec {program} if it is safe"))
        for target in line.redirect_targets:
            verdict = resolve(policy, target, "write")
            if verdict.code:
                out.append(diag(step, verdict.code, f"the command writes to {target}: {verdict.message}"))
        if line.program_writes and not policy.write:
            out.append(diag(step, "E_PERMISSION_WRITE", "the command writes files, and no writes are granted: pass --allow-write PATH"))
        return out

    def facts(self, step: Step, opcode: Opcode, skills: SkillTable, facts_of: FactsOf) -> StepFacts:
        line = exec_programs(step)
        # what the reader cannot read may write
        return StepFacts(effects=line.writes or bool(line.problems), permission="exec", programs=tuple(line.programs),
                         writes=tuple(line.redirect_targets))

    def command(self, step: Step) -> str | None:
        cmd, argv = step.args.get("cmd"), step.args.get("argv")
        if isinstance(cmd, str):
            return cmd
        if isinstance(argv, list):
            return quote_argv([str(a) for a in argv])
        return None

    def memory_key(self, step: Step) -> str:
        """Per program: what fixes `grep` does not fix `sort`."""
        cmd = step.args.get("cmd") or (step.args.get("argv") or [""])
        program = (cmd.split() or [""])[0] if isinstance(cmd, str) else str(cmd[0]) if isinstance(cmd, list) and cmd else ""
        return f"exec:{program}"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        policy = machine.policy
        bounds = limits(policy)
        timeout = args.get("timeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            bounds["timeout"] = float(min(timeout, policy.budgets.step_timeout))
        request = {"cmd": as_text(args["cmd"]) if "cmd" in args else None,
                   "argv": as_lines(args["argv"]) if "argv" in args else None,
                   "stdin": as_text(args["stdin"]) if "stdin" in args else None,
                   "env": {name: as_text(value).rstrip("\n") for name, value in machine.env.items()},
                   "rules": kernel_rules(policy)}
        response = machine.send({"op": "exec", "args": request, **bounds})
        value = response.get("value")
        detail: dict[str, Any] = {}
        if isinstance(value, dict):
            detail = {"exit_code": value.get("exit_code"), "stderr": as_text(value.get("stderr"))[-2000:]}
            if value.get("background_killed"):
                detail["background"] = f"{value['background_killed']} process(es) the command left running were stopped when it ended"
            value = value.get("stdout", "")
        return answered(response, value, detail)


def _regexes(step: Step, *names: str) -> list[Diagnostic]:
    """A literal pattern operand that Python's `re` (what the executor's grep and the host use)
    cannot compile is found before anything runs; a slot's pattern is only known at run time."""
    out = []
    for name in names:
        value = step.args.get(name)
        if isinstance(value, str):
            try:
                re.compile(value)
            except re.error as error:
                out.append(diag(step, "E_ARG_INVALID", f"{name}={value!r} is not a regular expression: {error}"))
    return out


class Units(Handler):
    """The code units of source files: the files with a line matching `match` are found
    by the executor's grep, read through its read path, and split here (babel.lang.units),
    so the host parses text the sandbox handed it and opens no file itself."""

    op = "units"
    wire = "grep"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        return _regexes(step, "match", "exclude") + int_range(step, "max_lines", 10, 400) + int_range(step, "limit", 1, 2000)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        policy = machine.policy
        paths = as_paths(args["paths"]) if "paths" in args else ["."]
        pattern = as_text(args["match"]) if "match" in args else r"\S"
        response = machine.send({"op": "grep", "args": {"pattern": pattern, "ignore_case": True, "fixed": False, "invert": False,
                                                        "allow_empty": True, "roots": list(policy.read),
                                                        "paths": [workspace_path(policy, p, "read") for p in paths]},
                                 **limits(policy)})
        found = answered(response, response.get("value"))
        if found.failure:
            return found
        try:
            skip = re.compile(as_text(args["exclude"])) if "exclude" in args else None
        except re.error as error:
            raise StepFailure("invalid_output", f"exclude= is not a regular expression: {error}") from None
        hits: dict[str, set[int]] = {}
        for record in found.value or []:
            if isinstance(record, dict) and language(str(record.get("path"))) and not (skip and skip.search(str(record.get("path")))):
                hits.setdefault(str(record["path"]), set()).add(int(record["line"]))
        max_lines, limit = run_int(args, "max_lines", 60, 10, 400), run_int(args, "limit", 200, 1, 2000)
        units: list[dict[str, Any]] = []
        for path in sorted(hits):
            read = machine.send({"op": "read", "args": {"path": path, "encoding": "utf-8", "roots": list(policy.read)}, **limits(policy)})
            if read.get("status") != "ok":  # a binary or unreadable file has no units
                continue
            for unit in split_units(path, str(read.get("value") or ""), max_lines):
                if any(unit.line <= n <= unit.end for n in hits[path]):  # a line the grep matched is in it
                    units.append(unit.record())
            if len(units) > limit:
                raise StepFailure("output_too_large", f"more than limit={limit} units match; narrow paths= or match=, or raise limit=")
        return Outcome(units, {"files": len(hits), "units": len(units)})


HANDLERS: dict[str, Handler] = {h.op: h for h in (Read(), Write(), Grep(), Exec(), Units())}
