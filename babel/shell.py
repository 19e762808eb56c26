"""A conservative reading of the shell command lines that `exec cmd=` runs.

The verifier needs to know which programs a command line starts, whether it writes
files, and where: enough to check an allow-list and the writable roots before
anything runs. This is not a shell parser; it reads the common shapes (pipelines,
lists, redirections, `$(...)`, `xargs` / `find -exec` / `timeout` / `env` prefixes,
for/while/if) and reports what it cannot read as such, so that the verifier refuses
it rather than guessing. The sandbox still enforces everything in the kernel.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_OPERATORS = {"|", "||", "&&", ";", "&", "(", ")", ";;", "|&", "\n"}
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"}
_BUILTINS = {"cd", "echo", "printf", "test", "[", "true", "false", "read", "set", "export", "local", "exit",
             "return", "shift", ":", "unset", "break", "continue", "wait", "pwd", "type", "command"}
#: Programs whose first non-option argument is itself a program to run.
_WRAPPERS = {"xargs", "timeout", "env", "nice", "nohup", "stdbuf", "command"}
_WRITERS = {"tee", "mv", "cp", "rm", "rmdir", "mkdir", "touch", "patch", "ln", "chmod", "chown", "truncate", "dd",
            "install", "split", "unzip", "tar", "gzip", "gunzip", "shred"}


@dataclass
class CommandLine:
    programs: list[str] = field(default_factory=list)
    redirect_targets: list[str] = field(default_factory=list)
    writes: bool = False  # by a redirection or by a program that writes
    program_writes: bool = False  # by a program that writes (targets unknown)
    problems: list[str] = field(default_factory=list)


def _substitutions(cmd: str) -> tuple[str, list[str]]:
    """Pull out $(...) and `...` bodies (checked on their own) and leave a placeholder."""
    bodies: list[str] = []
    out: list[str] = []
    i = 0
    quote: str | None = None
    while i < len(cmd):
        char = cmd[i]
        if quote == "'":
            if char == "'":
                quote = None
            out.append(char)
            i += 1
            continue
        if char == "\\" and i + 1 < len(cmd):
            # an escaped paren (find's grouping) is a word, not a subshell: quote it for the lexer
            out.append({"(": "ESCAPED_LPAREN", ")": "ESCAPED_RPAREN"}[cmd[i + 1]] if quote is None and cmd[i + 1] in "()" else cmd[i : i + 2])
            i += 2
            continue
        if char in "'\"" and (quote is None or quote == char):
            quote = None if quote == char else char
            out.append(char)
            i += 1
            continue
        if cmd.startswith("$((", i):  # arithmetic: no programs inside
            end = cmd.find("))", i)
            if end < 0:
                return cmd, bodies
            out.append("0")
            i = end + 2
            continue
        if cmd.startswith("$(", i) or char == "`":
            if char == "`":
                end = cmd.find("`", i + 1)
                body, i = (cmd[i + 1 : end], end + 1) if end > 0 else (cmd[i + 1 :], len(cmd))
            else:
                depth, j = 1, i + 2
                while j < len(cmd) and depth:
                    depth += {"(": 1, ")": -1}.get(cmd[j], 0)
                    j += 1
                body, i = cmd[i + 2 : j - 1], j
            bodies.append(body)
            out.append("SUBST")
            continue
        out.append(char)
        i += 1
    return "".join(out), bodies


def read_command_line(cmd: str) -> CommandLine:
    result = CommandLine()
    flat, bodies = _substitutions(cmd)
    for body in bodies:
        inner = read_command_line(body)
        result.programs += inner.programs
        result.redirect_targets += inner.redirect_targets
        result.writes |= inner.writes
        result.program_writes |= inner.program_writes
        result.problems += inner.problems
    lexer = shlex.shlex(flat.replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError as error:
        result.problems.append(f"cannot read the command line ({error})")
        return result
    expect_command = True
    skip_until_do = False
    wrapper_pending: str | None = None
    in_case = False
    words_in_command: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if in_case:
            in_case = token != "esac"
            i += 1
            continue
        if token in _OPERATORS or token in ("((", "))"):
            expect_command, wrapper_pending, words_in_command = True, None, []
            if token == ";":
                skip_until_do = False
            i += 1
            continue
        if re.fullmatch(r"\d*(>|>>|>\||&>|&>>)", token):
            target = tokens[i + 1] if i + 1 < len(tokens) else ""
            if target.startswith("&") or target == "&":
                i += 2
                continue
            if target not in ("/dev/null", "/dev/stdout", "/dev/stderr"):
                result.redirect_targets.append(target)
                result.writes = True
            i += 2
            continue
        if re.fullmatch(r"\d*(<|<<|<<<|<>|>&|<&)", token):
            i += 2
            continue
        if skip_until_do:
            if token == "do":
                skip_until_do, expect_command = False, True
            i += 1
            continue
        if expect_command:
            if token in ("for", "select"):
                skip_until_do = True
                i += 1
                continue
            if token == "case":
                in_case = True
                result.problems.append("`case` is not checked by Babel's reader: use grep or awk instead")
                i += 1
                continue
            if token in _KEYWORDS:
                i += 1
                continue
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token):  # VAR=value prefix
                i += 1
                continue
            if token.endswith("()"):
                result.problems.append("shell functions are not allowed in exec")
                i += 1
                continue
            program = token.rsplit("/", 1)[-1] if token.startswith("/") else token
            if program not in _BUILTINS:
                result.programs.append(program)
            if program in _WRITERS:
                result.writes = result.program_writes = True
            expect_command = False
            wrapper_pending = program if program in _WRAPPERS else None
            words_in_command = [program]
            i += 1
            continue
        words_in_command.append(token)
        program = words_in_command[0]
        if program in ("sed", "gawk", "awk", "perl") and (token in ("-i", "--in-place") or token.startswith("-i") or token == "inplace"):
            result.writes = result.program_writes = True
        if program == "sort" and (token == "-o" or token.startswith("--output") or (token.startswith("-") and not token.startswith("--") and "o" in token[1:])):
            result.writes = result.program_writes = True  # sort -o FILE writes FILE
        if program == "uniq" and len([w for w in words_in_command[1:] if not w.startswith("-")]) >= 2:
            result.writes = result.program_writes = True  # uniq IN OUT writes OUT
        if program == "find" and token in ("-exec", "-execdir", "-ok", "-okdir") and i + 1 < len(tokens):
            started = tokens[i + 1]
            result.programs.append(started)
            result.writes |= started in _WRITERS
            result.program_writes |= started in _WRITERS
            i += 2
            continue
        if program == "find" and token in ("-delete", "-fprint", "-fprintf", "-fls"):
            result.writes = result.program_writes = True
        if wrapper_pending is not None and not token.startswith("-"):
            if wrapper_pending == "timeout" and re.fullmatch(r"[\d.]+[smhd]?", token):
                i += 1
                continue
            if wrapper_pending == "env" and "=" in token:
                i += 1
                continue
            result.programs.append(token)
            result.writes |= token in _WRITERS
            result.program_writes |= token in _WRITERS
            wrapper_pending = token if token in _WRAPPERS else None
        i += 1
    return result


def quote_argv(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
