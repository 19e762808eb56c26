"""Policy: what a run may touch, and how much it may spend.

The verifier checks a plan against a policy before it runs; the runtime checks again
every path that only became known at run time; the sandbox enforces the same limits
in the kernel (read-only mounts, no network, pid / memory / cpu limits). Paths in a
policy are workspace roots (directories or files, relative to the workspace), not
globs: a root can be mounted, so what the policy says is what the kernel enforces.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

#: Tools a plan may run unless the policy says otherwise: a POSIX text tool set. Tools
#: that write (sed -i, mv, rm, tee, ...) are listed too: in a read-only workspace the
#: kernel refuses their writes, and where writes are granted they are what the user asked.
#: Tools that can start other programs (env, xargs, timeout, find -exec, git, python3)
#: start only programs on the step's allow-list: the kernel rules say so, and babel.verify.shell
#: refuses the options that would hide which. No pager: plans have no terminal, and a
#: pager can run commands.
DEFAULT_EXEC = (
    "awk", "base64", "basename", "bc", "cat", "cmp", "column", "comm", "cp", "cut", "date", "diff",
    "dirname", "du", "echo", "env", "expand", "expr", "false", "file", "find", "fmt", "fold", "gawk", "grep",
    "egrep", "fgrep", "head", "join", "jq", "ls", "md5sum", "mkdir", "mv", "nl", "od", "paste", "patch",
    "printf", "readlink", "realpath", "rev", "rg", "rm", "rmdir", "sed", "seq", "sha1sum", "sha256sum",
    "sort", "split", "stat", "tac", "tail", "tee", "test", "touch", "tr", "true", "tsort", "uniq", "wc",
    "xargs", "yes", "sleep", "timeout", "python3", "pwd", "git", "tar", "gzip", "gunzip", "zcat", "unzip", "zip", "xz",
    "bzip2", "sqlite3", "tree", "id", "uname",
    "chmod", "ln", "cksum", "sum", "sha224sum", "sha384sum", "sha512sum", "b2sum", "nproc", "whoami", "hostname", "df",
    "ps", "truncate", "shuf", "numfmt", "zgrep", "bzcat", "bunzip2", "xzcat", "unxz", "csplit", "pr", "mktemp", "factor",
)

#: Tools that only make sense with a network, which no run has unless the policy grants it.
NETWORK_TOOLS = ("curl", "wget", "nc", "ncat", "netcat", "ssh", "scp", "sftp", "rsync", "ping", "telnet", "ftp", "git-remote-http")


@dataclass(frozen=True)
class Budgets:
    steps: int = 50
    step_timeout: float = 30.0
    run_timeout: float = 600.0
    output_bytes: int = 4_000_000  # a step's value; past it the step fails output_too_large
    trace_output_bytes: int = 8_192  # how much of each step's output the trace keeps
    context_tokens: int = 6_144  # a process's working set of context pages, and so any one model call's context (docs/memory.md)


@dataclass(frozen=True)
class Policy:
    read: tuple[str, ...] = (".",)
    write: tuple[str, ...] = ()
    exec: tuple[str, ...] = DEFAULT_EXEC
    network: bool = False
    workspace: str = "/workspace"  # where the workspace is mounted in the sandbox
    budgets: Budgets = field(default_factory=Budgets)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def granting_writes(self, roots: tuple[str, ...] = (".",)) -> Policy:
        return replace(self, write=tuple(dict.fromkeys((*self.write, *roots))))

    def allowing_exec(self, tools: tuple[str, ...]) -> Policy:
        return replace(self, exec=tuple(dict.fromkeys((*self.exec, *tools))))


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


def load_policy(path: Path, base: Policy | None = None) -> Policy:
    """A policy from a JSON or YAML file; keys it leaves out keep the base's values."""
    import yaml  # YAML is optional for policies: JSON is YAML too

    base = base or Policy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError) as error:
        raise PolicyError(f"{path}: cannot read the policy: {error}") from None
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a policy is a mapping of keys (read, write, exec, network, workspace, budgets)")
    known = {"read", "write", "exec", "network", "workspace", "budgets"}
    unknown = sorted(str(key) for key in set(raw) - known)
    if unknown:
        raise PolicyError(f"{path}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key in ("read", "write", "exec"):
        if key in raw:
            if not isinstance(raw[key], list) or not all(isinstance(v, str) for v in raw[key]):
                raise PolicyError(f"{path}: {key!r} must be a list of strings")
            values[key] = tuple(raw[key])
    if "network" in raw:
        if not isinstance(raw["network"], bool):
            raise PolicyError(f"{path}: 'network' must be true or false")
        values["network"] = raw["network"]
    if "workspace" in raw:
        if not isinstance(raw["workspace"], str) or not raw["workspace"].startswith("/"):
            raise PolicyError(f"{path}: 'workspace' must be an absolute path such as /workspace")
        values["workspace"] = raw["workspace"]
    if "budgets" in raw:
        budgets = raw["budgets"]
        names = {f for f in Budgets.__dataclass_fields__}
        if not isinstance(budgets, dict) or set(budgets) - names:
            raise PolicyError(f"{path}: 'budgets' takes {', '.join(sorted(names))}")
        values["budgets"] = replace(base.budgets, **budgets)
    policy = replace(base, **values)
    problems = validate_policy(policy)
    if problems:
        raise PolicyError(f"{path}: " + "; ".join(problems))
    return policy


#: Each budget: (a whole number?, the least value, whether the least value is allowed, the
#: most). The most is what no run needs (a day a step, a week a run, a GiB of output): past
#: it a value is a typo or a way around the limit, and is refused like a negative one.
_BUDGET_RULES: dict[str, tuple[bool, float, bool, float]] = {
    "steps": (True, 1, True, 10_000),
    "step_timeout": (False, 0, False, 86_400),
    "run_timeout": (False, 0, False, 604_800),
    "output_bytes": (True, 1, True, 1 << 30),
    "trace_output_bytes": (True, 0, True, 64 << 20),
    "context_tokens": (True, 64, True, 1_000_000),
}


def validate_policy(policy: Policy) -> list[str]:
    """What is wrong with a policy, one message per problem, each naming its key (empty
    when it is usable). For policies from files and from flags (`--allow-write /etc`)."""
    problems: list[str] = []
    for key in ("read", "write"):
        roots = getattr(policy, key)
        if not isinstance(roots, tuple | list):
            problems.append(f"{key!r} must be a list of workspace paths")
            continue
        problems += [f"{key!r} root {root!r}: {why}" for root in roots if (why := _root_problem(root))]
    if not isinstance(policy.exec, tuple | list):
        problems.append("'exec' must be a list of program names")
    else:
        problems += [f"'exec' entry {name!r}: {why}" for name in policy.exec if (why := _program_problem(name))]
    if not isinstance(policy.network, bool):
        problems.append("'network' must be true or false")
    if not isinstance(policy.workspace, str) or not policy.workspace.startswith("/") or "\x00" in policy.workspace:
        problems.append("'workspace' must be an absolute path such as /workspace")
    for name, (whole, least, inclusive, most) in _BUDGET_RULES.items():
        value = getattr(policy.budgets, name)
        if (why := _budget_problem(value, whole, least, inclusive, most)) is not None:
            problems.append(f"'budgets.{name}' {why}, not {value!r}")
    return problems


def _root_problem(root: object) -> str | None:
    if not isinstance(root, str):
        return "a root is a path (a string)"
    if root.strip() == "" or "\x00" in root:
        return "a root must be a non-empty path without NUL bytes"
    if root.startswith(("/", "~")):
        return "roots are relative to the workspace (use '.' for all of it); an absolute path is not"
    if ".." in root.split("/"):
        return "a root must stay inside the workspace: no '..'"
    return None


def _program_problem(name: object) -> str | None:
    if not isinstance(name, str) or name == "":
        return "a program is named by a non-empty string"
    if "/" in name:
        return "the allow-list holds program names, not paths (the sandbox finds programs by name)"
    if "\x00" in name or any(c.isspace() for c in name):
        return "a program name holds no whitespace or NUL bytes"
    if (meant := _misspelt(name)) is not None:
        return f"no such program in the sandbox's tool set; did you mean {meant!r}?"
    return None


def _misspelt(name: str) -> str | None:
    """The known program `name` is a slip of (two neighbouring letters swapped: `grpe`), if
    it is one. A program of the user's own (`my-tool`) is fine; only a near miss of a
    known one is refused, since it could never run and its step would fail at run time."""
    known = set(DEFAULT_EXEC) | set(NETWORK_TOOLS)
    if name in known:
        return None
    swaps = {name[:i] + name[i + 1] + name[i] + name[i + 2:] for i in range(len(name) - 1)}
    return next((program for program in DEFAULT_EXEC if program in swaps), None)


def _budget_problem(value: object, whole: bool, least: float, inclusive: bool, most: float) -> str | None:
    bound = f"{'>=' if inclusive else '>'} {least:g} and <= {most:g}"
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        return f"must be {kind} {bound}"
    if not math.isfinite(value) or value < least or (value == least and not inclusive) or value > most:
        return f"must be {kind} {bound}"
    return None


# ---- paths ------------------------------------------------------------------------


@dataclass(frozen=True)
class PathVerdict:
    """A path resolved against the workspace: the relative path, or why it is refused."""

    relative: str | None
    code: str | None = None
    message: str | None = None


def resolve(policy: Policy, path: str, access: str) -> PathVerdict:
    """Where `path` lands in the workspace, and whether `access` ("read"/"write") is granted.

    Only the spelling is judged here (absolute paths, `..`); symlinks are judged inside
    the sandbox by the executor, which sees the real files.
    """
    if "\x00" in path:
        return PathVerdict(None, "E_PATH_INVALID", "the path contains a NUL byte")
    if path.strip() == "":
        return PathVerdict(None, "E_PATH_INVALID", "the path is empty")
    mount = posixpath.normpath(policy.workspace)
    if path.startswith("/"):
        normal = posixpath.normpath(path)
        if normal != mount and not normal.startswith(mount + "/"):
            return PathVerdict(None, "E_PATH_OUTSIDE_ROOT", f"{path} is outside the workspace ({mount}); use a path relative to the workspace")
        relative = posixpath.relpath(normal, mount)
    else:
        relative = posixpath.normpath(path)
    if relative == ".." or relative.startswith("../"):
        return PathVerdict(None, "E_PATH_OUTSIDE_ROOT", f"{path} leaves the workspace by '..'")
    roots = policy.read if access == "read" else policy.write
    if not any(path_within(relative, root) for root in roots):
        if access == "write":
            hint = "no writes are granted: pass --allow-write PATH" if not roots else f"writable roots: {', '.join(roots)}"
            return PathVerdict(None, "E_PERMISSION_WRITE", f"{path} is not writable ({hint})")
        return PathVerdict(None, "E_PERMISSION_READ", f"{path} is not readable (readable roots: {', '.join(roots) or 'none'})")
    return PathVerdict(relative)


def path_within(relative: str, root: str) -> bool:
    root = posixpath.normpath(root.strip("/") or ".")
    return root == "." or relative == root or relative.startswith(root + "/")


def policy_summary(policy: Policy) -> str:
    return json.dumps(policy.to_json(), sort_keys=True)


def replace_budgets(policy: Policy, **changes: Any) -> Policy:
    return replace(policy, budgets=replace(policy.budgets, **changes))
