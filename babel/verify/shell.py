"""A conservative reading of the shell command lines that `exec cmd=` runs.

The verifier needs to know which programs a command line starts, whether it writes
files, and where: enough to check an allow-list and the writable roots before
anything runs, and to say what is wrong in terms a person (or the model) can act on.
This is not a shell; it reads the command line the way the sandbox's /bin/sh (dash)
does, well enough to find every program it names: words and quotes, `#` comments
(only at the start of a word), pipelines and lists, redirections, here-documents,
`$(...)`, backquotes and `${...}` (their commands are read as commands), for / while /
if, and the wrappers that start a program named in their arguments (`xargs`, `find
-exec`, `timeout`, `env`, `nice`, `nohup`, `stdbuf`, `command`, `exec`, `flock`).

What it cannot read reliably it reports as a problem, and the verifier refuses the
plan: a program given by a path (the allow-list is of names; the sandbox finds them),
a program named only at run time, `case`, functions, `eval` / `.` / `trap` / `alias`,
process substitution, arithmetic holding a command substitution, assignments that
change how programs are found or loaded (PATH, IFS, LD_*, BASH_ENV, ENV, ...), every
`VAR=value` prefix before a command (`IFS=... read` excepted: it only sets how `read`
splits), `env` with options or assignments, the options that make a tool run another
program (`sort --compress-program`, `tar -I` / `--to-command` / `--checkpoint-action`,
`git -c` / `config` / `--upload-pack`, `split --filter`, `rg --pre`, `zip -TT`, `awk`
`system()` and pipes, `sed` `e`, ...), and, for those tools, an argument that is only
known at run time where the tool reads options (a file named `--to-command=x` must not
become an option).

Decisions:

- An interpreter's code is data to this reader. `python3 -c '...'`, `python3 FILE`,
  `perl`, `sqlite3` may do anything their language can, including starting programs;
  the reader does not read their code. They stay allowed because the kernel confines
  them: the sandbox's Landlock rules let a step execute only the programs on its
  allow-list (and /bin/sh for `cmd=`), read and write only its roots. awk and sed are
  read (their program text is right there and small), because plans use them all the
  time and a precise "system() runs a command" is worth more than a kernel refusal.
- Data is data: what a program does with its input (xargs appending file names, git
  honouring the repository's own hooks, pager or diff drivers, patch running ed) is
  confined by the kernel, not judged here.
- Where the reader is unsure how a shell would read something, it reads it the way
  that starts more commands, or refuses it.

The reader never raises: any input either reads or yields a problem.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

_MAX_LENGTH = 200_000  # longer command lines are refused, not read
_MAX_DEPTH = 24  # nesting of $(...), `...` and ${...}

_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "]]", "esac", "in"}
_BUILTINS = {"cd", "echo", "printf", "test", "[", "true", "false", "read", "set", "export", "local", "readonly", "exit",
             "return", "shift", ":", "unset", "break", "continue", "wait", "pwd", "type", "command", "exec", "getopts",
             "umask", "ulimit", "times", "jobs", "kill", "hash", "unalias", "[[", "declare", "typeset"}
#: Builtins that run text as commands, or change what a name runs: nothing the reader can follow.
_REFUSED_BUILTINS = {
    "eval": "eval runs text as commands, which cannot be checked before it runs",
    ".": "`.` runs a file's text as commands, which cannot be checked before it runs",
    "source": "source runs a file's text as commands, which cannot be checked before it runs",
    "trap": "trap runs text as commands later, which cannot be checked before it runs",
    "alias": "alias changes what a command name runs",
    "fc": "fc runs commands from the history",
    "builtin": "builtin is not needed in a plan",
    "enable": "enable can load builtins from a file",
    "mapfile": "mapfile -C runs text as commands", "readarray": "readarray -C runs text as commands",
    "bind": "bind is for interactive shells", "complete": "complete is for interactive shells",
    "compgen": "compgen -C runs a command", "coproc": "coproc starts a background command Babel's reader does not follow",
    "function": "shell functions are not allowed in exec",
}
#: Programs that run other programs, or a shell, in ways the reader does not follow.
_RUNNERS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "csh", "tcsh", "fish", "busybox", "sudo", "su", "doas",
            "runuser", "setsid", "chroot", "nsenter", "unshare", "ionice", "taskset", "chrt", "strace", "ltrace", "gdb",
            "expect", "watch", "script", "parallel", "socat", "less", "more", "most", "pg", "man", "vi", "vim", "view",
            "ex", "ed", "nano", "emacs"}
_WRITERS = {"tee", "mv", "cp", "rm", "rmdir", "mkdir", "touch", "patch", "ln", "chmod", "chown", "truncate", "dd",
            "install", "split", "csplit", "unzip", "zip", "gzip", "gunzip", "xz", "unxz", "bzip2", "bunzip2", "shred"}
#: Variables that change how the shell or the programs it starts find and load code, or
#: which programs they start (a pager, an editor, a compressor, a configuration file).
_RISKY_NAMES = {"PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PS1", "PS2", "PROMPT_COMMAND", "CDPATH",
                "HOME", "SHELL", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "TAR_OPTIONS", "ZIPOPT", "UNZIP", "UNZIPOPT",
                "GZIP", "XZ_OPT", "XZ_DEFAULTS", "BZIP", "BZIP2", "AWKPATH", "AWKLIBPATH", "GCONV_PATH", "GLIBC_TUNABLES",
                "LOCPATH", "NLSPATH", "HOSTALIASES", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "LESS", "LESSOPEN", "LESSCLOSE",
                "LESSKEY", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "SQLITE_HISTORY"}
_RISKY_PREFIXES = ("LD_", "GIT_", "BASH_FUNC_", "PYTHON", "DYLD_", "MALLOC_")
#: Variables the shell or the executor sets to absolute paths: never an option.
_ABSOLUTE_VARS = {"PWD", "OLDPWD", "HOME", "TMPDIR"}
_QUIET_TARGETS = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"}
_PLAIN_PROGRAM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_OPERATOR = re.compile(r"\d*(<<<|<<-|&>>|<<|>>|<>|<&|>&|>\||&>|<|>)|;;&|;;|;&|&&|\|\||\|&|&|\||;|\(|\)")
_WRITE_REDIRECTS = {">", ">>", ">|", "&>", "&>>", "<>"}
_REDIRECTS = _WRITE_REDIRECTS | {"<", "<<", "<<-", "<<<", "<&", ">&"}


def risky_variable(name: str) -> bool:
    """Whether setting `name` changes how programs are found, loaded or configured."""
    return name in _RISKY_NAMES or name.startswith(_RISKY_PREFIXES)


@dataclass
class CommandLine:
    programs: list[str] = field(default_factory=list)
    redirect_targets: list[str] = field(default_factory=list)
    writes: bool = False  # by a redirection or by a program that writes
    program_writes: bool = False  # by a program that writes (targets unknown)
    problems: list[str] = field(default_factory=list)


# ---- words ------------------------------------------------------------------------


@dataclass
class Word:
    """A shell word: its value with quotes removed (expansions kept as written)."""

    text: str = ""
    raw: str = ""  # as written, for messages
    quoted: bool = False
    dynamic: bool = False  # some part is only known at run time
    lead: tuple[str, str] | None = None  # how the value starts: ("lit"|"glob", char), ("var", name) or ("dyn", "")
    bodies: list[list[Token]] = field(default_factory=list)  # the commands of its substitutions
    variables: list[str] = field(default_factory=list)  # the plain $name / ${name} expansions in it
    opaque: bool = False  # it holds an expansion other than a plain variable

    def add(self, text: str, quoted: bool = False) -> None:
        if self.lead is None and text:
            self.lead = ("glob" if not quoted and text[0] in "*?[" else "lit", text[0])
        self.text += text
        self.quoted |= quoted

    def add_dynamic(self, spelling: str, var: str | None = None) -> None:
        if self.lead is None:
            self.lead = ("var", var) if var else ("dyn", "")
        if var:
            self.variables.append(var)
        else:
            self.opaque = True
        self.text += spelling
        self.dynamic = True


Token = str | Word  # an operator, or a word


def _show(text: str, limit: int = 60) -> str:
    """A word for a message: as written, cut short."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(word: Word, text: str) -> bool:
    """An unquoted reserved word or operator-like word, spelled exactly `text`."""
    return word.raw == text


# ---- the lexer --------------------------------------------------------------------


class _Lexer:
    """Splits shell text into words and operators the way dash does; substitutions are
    lexed recursively into the word that holds them."""

    def __init__(self, source: str, problems: list[str], depth: int = 0) -> None:
        self.s, self.i, self.problems, self.depth = source, 0, problems, depth
        self.heredocs: list[tuple[Word, str, bool]] = []  # (the word that gets the body's substitutions, delimiter, strip tabs)

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def tokens(self, closing: bool = False) -> list[Token]:
        """Tokens up to the end, or (closing) up to the `)` that ends a `$(`."""
        out: list[Token] = []
        parens = 0
        heredoc: bool | None = None  # the next word is a here-document's delimiter (strip tabs?)
        s = self.s
        while self.i < len(s):
            char = s[self.i]
            if char in " \t":
                self.i += 1
            elif char == "\\" and s.startswith("\n", self.i + 1):
                self.i += 2
            elif char == "#":  # a comment: only here, at the start of a word
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif char == "\n":
                self.i += 1
                out.append("\n")
                self._heredoc_bodies()
            elif (match := _OPERATOR.match(s, self.i)) is not None:
                op = match.group(1) or match.group(0)
                self.i = match.end()
                if op == ")" and closing and parens == 0:
                    return out
                parens += {"(": 1, ")": -1}.get(op, 0)
                if op in ("<", ">") and s.startswith("(", self.i):
                    self.problem("process substitution `<(...)` / `>(...)` is not allowed in exec: use a pipe or a file")
                    out.append(self.process_substitution())
                    continue
                heredoc = (op == "<<-") if op in ("<<", "<<-") else None
                out.append(op)
            else:
                word = self.word()
                if heredoc is not None:
                    self.heredocs.append((word, word.text, heredoc))
                    heredoc = None
                out.append(word)
        if closing:
            self.problem("a `$(` is never closed")
        if self.heredocs:
            self.problem("a here-document is never ended (no line holding only its delimiter)")
            self.heredocs = []
        return out

    def word(self) -> Word:
        word, start, s = Word(), self.i, self.s
        while self.i < len(s):
            char = s[self.i]
            if char in " \t\n|&;()<>":
                break
            if char == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                if nxt != "\n":
                    word.add(nxt or "\\", quoted=bool(nxt))
                self.i += 2
            elif char == "'":
                self.single_quoted(word)
            elif char == '"':
                self.double_quoted(word)
            elif char == "$":
                self.dollar(word, in_double=False)
            elif char == "`":
                self.backquoted(word, in_double=False)
            else:
                word.add(char)
                self.i += 1
        word.raw = s[start : self.i]
        return word

    def single_quoted(self, word: Word) -> None:
        end = self.s.find("'", self.i + 1)
        if end < 0:
            self.problem("a ' is never closed")
            end = len(self.s)
        word.add(self.s[self.i + 1 : end], quoted=True)
        word.quoted = True
        self.i = end + 1

    def double_quoted(self, word: Word) -> None:
        s = self.s
        self.i += 1
        word.quoted = True
        while self.i < len(s):
            char = s[self.i]
            if char == '"':
                self.i += 1
                return
            if char == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                if nxt in ("$", "`", '"', "\\"):
                    word.add(nxt, quoted=True)
                elif nxt != "\n":
                    word.add("\\" + nxt, quoted=True)
                self.i += 2
            elif char == "$":
                self.dollar(word, in_double=True)
            elif char == "`":
                self.backquoted(word, in_double=True)
            else:
                word.add(char, quoted=True)
                self.i += 1
        self.problem('a " is never closed')

    def dollar(self, word: Word, in_double: bool) -> None:
        s, i = self.s, self.i
        nxt = s[i + 1 : i + 2]
        if s.startswith("$((", i):
            self.arithmetic(word)
        elif nxt == "(":
            self.command_substitution(word)
        elif nxt == "{":
            self.parameter(word, in_double)
        elif nxt == "'" and not in_double:
            # dash reads $'...' as a `$` and a quoted string, bash as one string with escapes:
            # where the two end in different places, what runs depends on the shell
            if s.find("'", i + 2) != _ansi_c_end(s, i + 2):
                self.problem("a $'...' string ends in different places in different shells: use plain quotes")
            word.add_dynamic("$")
            self.i += 1
        elif (match := re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?\-$!]").match(s, i + 1)) is not None:
            name = match.group(0)
            word.add_dynamic("$" + name, var=name)
            self.i = match.end()
        else:
            word.add("$", quoted=in_double)
            self.i += 1

    def arithmetic(self, word: Word) -> None:
        """$((...)): no programs inside, unless it holds a substitution, which is refused."""
        s, start = self.s, self.i + 3
        depth, j = 0, start
        while j < len(s):
            if s[j] == "(":
                depth += 1
            elif s[j] == ")":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        body = s[start:j]
        if j >= len(s) or not s.startswith("))", j):
            self.problem("an arithmetic expansion $((...)) is not closed by `))`")
        elif "$(" in body or "`" in body:
            self.problem("arithmetic $((...)) holding a command substitution is not allowed in exec: compute the value first")
        elif re.search(r"['\"\\;]", body):
            self.problem("cannot read this arithmetic $((...)): it holds quotes, backslashes or `;`")
        word.add_dynamic(s[self.i : j + 2])
        self.i = min(j + 2, len(s))

    def nested(self) -> bool:
        if self.depth + 1 >= _MAX_DEPTH:
            self.problem("the command line nests substitutions too deeply to be read")
            self.i = len(self.s)
            return False
        return True

    def command_substitution(self, word: Word) -> None:
        start = self.i
        if not self.nested():
            return
        inner = _Lexer(self.s, self.problems, self.depth + 1)
        inner.i = self.i + 2
        word.bodies.append(inner.tokens(closing=True))
        self.i = inner.i
        word.add_dynamic(self.s[start : self.i])

    def process_substitution(self) -> Word:
        """`<(...)` (refused): read as a word holding the commands inside, so that they are checked too."""
        word, start = Word(), self.i
        if self.nested():
            inner = _Lexer(self.s, self.problems, self.depth + 1)
            inner.i = self.i + 1
            word.bodies.append(inner.tokens(closing=True))
            self.i = inner.i
        word.add_dynamic(self.s[start : self.i])
        word.raw = self.s[start : self.i]
        return word

    def backquoted(self, word: Word, in_double: bool) -> None:
        s, j, body = self.s, self.i + 1, []
        escapes = "$`\\" + ('"' if in_double else "")
        while j < len(s) and s[j] != "`":
            if s[j] == "\\" and s[j + 1 : j + 2] and s[j + 1] in escapes:
                body.append(s[j + 1])
                j += 2
            else:
                body.append(s[j])
                j += 1
        if j >= len(s):
            self.problem("a ` is never closed")
        start = self.i
        self.i = min(j + 1, len(s))
        if self.depth + 1 >= _MAX_DEPTH:
            self.problem("the command line nests substitutions too deeply to be read")
        else:
            word.bodies.append(_Lexer("".join(body), self.problems, self.depth + 1).tokens())
        word.add_dynamic(s[start : self.i])

    def parameter(self, word: Word, in_double: bool) -> None:
        """${name}, ${name:-word}, ${#name}, ${name#pattern}: the word's substitutions are read too."""
        s, start = self.s, self.i
        if not self.nested():
            return
        self.i += 2
        length = s.startswith("#", self.i) and _NAME.match(s, self.i + 1) is not None
        self.i += length
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?\-$!]").match(s, self.i)
        op_match = re.compile(r":-|:=|:\?|:\+|-|=|\?|\+|##|#|%%|%|}").match(s, match.end()) if match else None
        if match is None or op_match is None or (length and op_match.group(0) != "}"):
            self.problem("cannot read this ${...} expansion (dash knows only ${name}, ${#name} and the -=?+#% forms)")
            op = ""
        else:
            op = op_match.group(0)
            self.i = op_match.end()
            name = match.group(0)
            if op in ("=", ":=") and risky_variable(name):
                self.problem(f"${{{name}{op}...}} sets {name}, which changes how programs are found or loaded: refused")
            if op == "}":
                word.add_dynamic(s[start : self.i], var=None if length else name)
                return
        # in double quotes, single quotes are quotes only in the pattern forms (dash, POSIX)
        self.depth += 1  # ${x:-${y:-...}} nests within this lexer
        self.parameter_word(word, quotes=not in_double or op in ("#", "##", "%", "%%"), in_double=in_double)
        self.depth -= 1
        word.add_dynamic(s[start : self.i])

    def parameter_word(self, word: Word, quotes: bool, in_double: bool) -> None:
        scratch, s = Word(), self.s
        while self.i < len(s):
            char = s[self.i]
            if char == "}":
                self.i += 1
                word.bodies += scratch.bodies
                return
            if char == "\\":
                self.i += 2
            elif char == "'" and quotes:
                self.single_quoted(scratch)
            elif char == '"':
                self.double_quoted(scratch)
            elif char == "$":
                self.dollar(scratch, in_double)
            elif char == "`":
                self.backquoted(scratch, in_double)
            else:
                self.i += 1
        word.bodies += scratch.bodies
        self.problem("a ${ is never closed")

    def _heredoc_bodies(self) -> None:
        """The bodies of the here-documents started on the line just ended: their
        substitutions run, unless the delimiter was quoted."""
        pending, self.heredocs = self.heredocs, []
        for word, delimiter, strip in pending:
            lines: list[str] = []
            while True:
                if self.i >= len(self.s):
                    self.problem(f"the here-document ending with {delimiter!r} is never ended")
                    break
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i : end]
                self.i = end + 1
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
                lines.append(line)
            if not word.quoted:
                word.bodies += _expansions("\n".join(lines), self.problems, self.depth)


def _ansi_c_end(s: str, i: int) -> int:
    """Where bash's $'...' ends: at the first `'` not escaped by a backslash."""
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == "'":
            return i
        i += 1
    return -1


def _expansions(text: str, problems: list[str], depth: int) -> list[list[Token]]:
    """The substitutions in here-document text (read like the inside of double quotes)."""
    lexer, word = _Lexer(text, problems, depth), Word()
    while lexer.i < len(text):
        char = text[lexer.i]
        if char == "\\":
            lexer.i += 2
        elif char == "$":
            lexer.dollar(word, in_double=True)
        elif char == "`":
            lexer.backquoted(word, in_double=True)
        else:
            lexer.i += 1
    return word.bodies


# ---- the reader -------------------------------------------------------------------


def _dashdash(args: list[Word]) -> int:
    """Where the operands-only part of `args` starts (after `--`), or len(args)."""
    return next((i for i, w in enumerate(args) if w.raw == "--"), len(args))


def _prefix_of(given: str, names: tuple[str, ...] | set[str] | frozenset[str] | dict[str, str]) -> str | None:
    """The long option `given` abbreviates (GNU getopt takes any unambiguous prefix)."""
    return next((name for name in names if given and name.startswith(given)), None)


@dataclass(frozen=True)
class _Options:
    """How a tool reads its options, enough to tell options from operands."""

    values: str = ""  # short options that take a value (attached, or the next word)
    long_values: tuple[str, ...] = ()  # long options that take a value (=value, or the next word)
    refused: dict[str, str] = field(default_factory=dict)  # option (a letter, or a long name) -> why it is refused
    safe_long: tuple[str, ...] = ()  # long options that are exact names, though a refused one starts with them
    writes: tuple[str, ...] = ()  # options (letters or long names) that make the tool write files
    posix: bool = False  # options end at the first operand (the wrappers) rather than anywhere before `--`


class _Reader:
    """Walks the tokens of a command line, command by command."""

    def __init__(self, result: CommandLine) -> None:
        self.result = result
        self.in_case = False
        self.wrappers = 0  # how many wrappers (xargs, env, timeout...) the current program sits in
        self.safe_vars: dict[str, tuple[bool, bool]] = {}  # for-loop variables: (never an option, a relative path)

    def problem(self, message: str) -> None:
        if message not in self.result.problems:
            self.result.problems.append(message)

    def writes(self) -> None:
        self.result.writes = self.result.program_writes = True

    def program(self, name: str) -> None:
        self.result.programs.append(name)
        if name in _WRITERS:
            self.writes()

    # -- lists and commands --

    def read(self, tokens: list[Token]) -> None:
        for token in tokens:  # every substitution is a command list of its own
            if isinstance(token, Word):
                for body in token.bodies:
                    self.read(body)
        words: list[Word] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if isinstance(token, Word):
                words.append(token)
            elif token in _REDIRECTS:
                target = tokens[i + 1] if i + 1 < len(tokens) else None
                if isinstance(target, Word):
                    self.redirect(token, target)
                    i += 1
                else:
                    self.problem(f"a `{token}` redirection has no target")
            else:
                if token == "(" and words:
                    self.problem("shell functions are not allowed in exec")
                    words = []
                self.command(words)
                words = []
            i += 1
        self.command(words)

    def redirect(self, op: str, target: Word) -> None:
        if op == ">&" and re.fullmatch(r"\d+|-", target.text):
            return  # a descriptor, not a file
        if op not in _WRITE_REDIRECTS and op != ">&":
            return
        if target.text in _QUIET_TARGETS:
            return
        self.result.writes = True
        if target.dynamic and not self.relative_path(target):
            self.problem(f"the command writes to {_show(target.raw)}, a path only known at run time: write the path out")
            return
        self.result.redirect_targets.append(re.sub(r"^\$\{?PWD\}?/", "", target.text))

    def command(self, words: list[Word]) -> None:
        if self.in_case:
            self.in_case = not any(_plain(w, "esac") for w in words)
            return
        while words and words[0].raw in _KEYWORDS:
            words = words[1:]
        if not words:
            return
        head = words[0].raw
        if head in ("for", "select"):
            self.loop(words)
            return
        if head == "case":
            self.problem("`case` is not checked by Babel's reader: use grep or awk instead")
            self.in_case = not any(_plain(w, "esac") for w in words)
            return
        if head == "[[":
            self.problem("`[[ ... ]]` is bash; the sandbox's /bin/sh is dash: use `[ ... ]`")
            return
        k = 0
        while k < len(words) and (match := _ASSIGNMENT.match(words[k].raw)) is not None:
            self.assignment(match.group(1), words[k], words[k + 1] if k + 1 < len(words) else None)
            k += 1
        if k == len(words):
            return
        names = {_ASSIGNMENT.match(w.raw).group(1) for w in words[:k]}  # type: ignore[union-attr]
        if k and not (names == {"IFS"} and words[k].raw == "read"):
            self.problem(f"`{_show(words[0].raw)} {_show(words[k].raw)}`: a VAR=value prefix before a command is not allowed in exec; "
                         "set it on its own (`export NAME=value; ...`) or pass it as an argument")
        self.run(words[k:], wrapped=False)

    def assignment(self, name: str, word: Word, command: Word | None) -> None:
        self.safe_vars.pop(name, None)
        if risky_variable(name) and not (name == "IFS" and command is not None and command.raw == "read"):
            self.problem(f"{name}= is not allowed in exec: it changes how programs are found, loaded or configured")

    def loop(self, words: list[Word]) -> None:
        if len(words) < 2 or _NAME.fullmatch(words[1].text) is None:
            self.problem("cannot read this `for` loop")
            return
        name = words[1].text
        self.assignment(name, words[1], None)
        if len(words) > 2 and _plain(words[2], "in"):
            items = words[3:]
            self.safe_vars[name] = (all(_never_option(w) for w in items), all(_relative_start(w) for w in items))
        elif len(words) > 2 and _plain(words[2], "do"):
            self.command(words[3:])

    def relative_path(self, word: Word) -> bool:
        """Whether a path's expansions are all `for` variables over relative paths (or a leading $PWD)."""
        names = word.variables[1:] if word.lead == ("var", "PWD") else word.variables
        return not word.opaque and all(self.safe_vars.get(name, (False, False))[1] for name in names)

    def may_be_option(self, word: Word) -> bool:
        """Whether the word's value might start with `-` at run time (so be read as an option)."""
        lead = word.lead
        if lead is None or lead[0] == "lit":
            return False
        if lead[0] == "var":
            return lead[1] not in _ABSOLUTE_VARS and not self.safe_vars.get(lead[1], (False, False))[0]
        return True

    # -- one program and its arguments --

    def run(self, words: list[Word], wrapped: bool) -> None:
        """A program and its arguments; `wrapped` when another program starts it (so a
        shell builtin is a program then)."""
        if not words:
            return
        word, args = words[0], words[1:]
        name = word.text
        if word.dynamic:
            self.problem(f"the program {_show(word.raw)} is only known at run time: name it in the command")
        elif "/" in name:
            self.problem(f"{_show(word.raw)} names a program by its path: the allow-list is of program names, so name it "
                         f"({name.rstrip('/').rsplit('/', 1)[-1] or name}) and the sandbox finds it")
        elif not wrapped and name in _REFUSED_BUILTINS:
            self.problem(_REFUSED_BUILTINS[name])
        elif not wrapped and name in _BUILTINS:
            self.builtin(name, args)
        elif _PLAIN_PROGRAM.fullmatch(name) is None:
            pattern = re.search(r"[*?\[\]{}~]", name) is not None
            self.problem(f"{_show(word.raw)!r} is not a plain program name" + (" (the shell would expand it, or it is a placeholder)" if pattern else ""))
        else:
            self.program(name)
            if name in _RUNNERS:
                self.problem(f"{name} runs other programs or commands in ways Babel's reader cannot follow")
            check = _CHECKS.get(name)
            if check is not None and self.wrappers >= _MAX_DEPTH:
                self.problem("the command wraps programs in programs too deeply to be read")
            elif check is not None:
                self.wrappers += 1
                check(self, name, args)
                self.wrappers -= 1

    def builtin(self, name: str, args: list[Word]) -> None:
        if name in ("export", "readonly", "local", "declare", "typeset"):
            for arg in args:
                if arg.dynamic and not arg.text.startswith("-") and "=" not in arg.text.split("$", 1)[0]:
                    self.problem(f"{name} {_show(arg.raw)}: the variable's name is only known at run time")
                variable = arg.text.split("=", 1)[0]
                if risky_variable(variable):
                    self.problem(f"{name} {variable} is not allowed in exec: it changes how programs are found, loaded or configured")
                self.safe_vars.pop(variable, None)
        elif name in ("read", "getopts"):
            names = [a.text for a in args if not a.text.startswith("-")][1 if name == "getopts" else 0 :]
            for variable in names:
                self.safe_vars.pop(variable, None)
                if risky_variable(variable) and variable != "IFS":
                    self.problem(f"{name} {variable} is not allowed in exec: it changes how programs are found, loaded or configured")
        elif name == "command":
            flags = [a.text for a in args[: next((i for i, a in enumerate(args) if not a.text.startswith("-")), len(args))]]
            if not any(f in ("-v", "-V") for f in flags):  # command -v only looks a name up
                self.run(args[len(flags) :], wrapped=True)
        elif name == "exec":
            self.run(args, wrapped=True)
        elif name == "hash" and any(a.text.startswith("-p") for a in args):
            self.problem("hash -p changes what a command name runs")

    def options(self, tool: str, args: list[Word], spec: _Options) -> list[Word]:
        """The operands among `args`, reporting refused options, writes, and arguments
        only known at run time where the tool reads options."""
        operands: list[Word] = []
        i = 0
        while i < len(args):
            word, text = args[i], args[i].text
            if word.raw == "--":
                return operands + args[i + 1 :]
            if self.may_be_option(word):
                self.problem(f"{tool} {_show(word.raw)}: an argument only known at run time, where {tool} reads options "
                             f"(it could make {tool} run a program); put `--` before the operands or spell it out")
                if spec.posix:
                    return []
            elif text.startswith("--") and len(text) > 2:
                given, equals, _ = text[2:].partition("=")
                i += self.long_option(tool, given, spec) and not equals
            elif text.startswith("-") and len(text) > 1:
                i += self.short_options(tool, text, spec)
            elif spec.posix:
                return args[i:]
            else:
                operands.append(word)
            i += 1
        return operands

    def long_option(self, tool: str, given: str, spec: _Options) -> bool:
        """Reports a refused or writing long option; whether it takes the next word as its value."""
        refused = _prefix_of(given, {n for n in spec.refused if len(n) > 1})
        if refused and given not in spec.safe_long:
            self.problem(f"{tool} --{refused}: {spec.refused[refused]}")
        if _prefix_of(given, tuple(n for n in spec.writes if len(n) > 1)):
            self.writes()
        return _prefix_of(given, spec.long_values) is not None

    def short_options(self, tool: str, text: str, spec: _Options) -> bool:
        """Reports refused or writing letters of a bundle (-abc); whether the next word is a value."""
        for j, letter in enumerate(text[1:], 1):
            if letter in spec.refused:
                self.problem(f"{tool} -{letter}: {spec.refused[letter]}")
            if letter in spec.writes:
                self.writes()
            if letter in spec.values:
                return j == len(text) - 1
        return False


def _never_option(word: Word) -> bool:
    return word.lead is not None and word.lead[0] == "lit" and word.lead[1] != "-"


def _relative_start(word: Word) -> bool:
    return word.lead is not None and word.lead[0] in ("lit", "glob") and word.lead[1] not in "/~" and ".." not in word.text


# ---- tools that start programs, or read programs of their own ----------------------

Check = Callable[[_Reader, str, list[Word]], None]
_RUNS = "it makes the tool run another program, which Babel's reader cannot check"


def _wrapper(spec: _Options, skip: int = 0) -> Check:
    """A program that runs the command in its operands (after `skip` operands of its own)."""

    def check(reader: _Reader, tool: str, args: list[Word]) -> None:
        reader.run(reader.options(tool, args, spec)[skip:], wrapped=True)

    return check


def _check_env(reader: _Reader, tool: str, args: list[Word]) -> None:
    k = next((i for i, a in enumerate(args) if not (a.text.startswith("-") or "=" in a.text)), len(args))
    if k:
        reader.problem(f"env {_show(' '.join(a.raw for a in args[:k]))}: env with options or assignments changes the environment "
                       "the program runs in; it is not allowed in exec")
        return
    reader.run(args, wrapped=True)


_XARGS = _Options(values="IaEdLnPs", long_values=("arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"),
                  refused={"process-slot-var": "it sets a variable in the programs xargs starts"}, posix=True)


def _check_xargs(reader: _Reader, tool: str, args: list[Word]) -> None:
    command = reader.options(tool, args, _XARGS)  # (xargs -I replaces in arguments, never in the program's name)
    if not command and not any(reader.may_be_option(a) for a in args):
        reader.program("echo")  # xargs with no command runs echo
    reader.run(command, wrapped=True)


def _check_flock(reader: _Reader, tool: str, args: list[Word]) -> None:
    operands = reader.options(tool, args, _Options(values="wEc", long_values=("timeout", "wait", "conflict-exit-code", "command"),
                                                   refused={"c": "it runs a shell command", "command": "it runs a shell command"}, posix=True))
    reader.run(operands[1:], wrapped=True)


_FIND_NO_VALUE = {"-print", "-print0", "-ls", "-delete", "-prune", "-quit", "-true", "-false", "-empty", "-readable", "-writable",
                  "-executable", "-nouser", "-nogroup", "-depth", "-mount", "-xdev", "-noleaf", "-daystart", "-follow", "-not",
                  "-a", "-o", "-and", "-or", "-warn", "-nowarn", "-ignore_readdir_race", "-noignore_readdir_race", "-H", "-L", "-P"}


def _check_find(reader: _Reader, tool: str, args: list[Word]) -> None:
    i, value_next = 0, False
    while i < len(args):
        word, text = args[i], args[i].text
        if text in ("-exec", "-execdir", "-ok", "-okdir") and not word.dynamic:
            end = i + 1
            while end < len(args) and not (args[end].text == ";" or (args[end].text == "+" and args[end - 1].text == "{}")):
                end += 1
            if end >= len(args):
                reader.problem(f"find {text} has no `\\;` or `+` at its end")
            if end == i + 1:
                reader.problem(f"find {text} names no program")
            reader.run(args[i + 1 : end], wrapped=True)
            i, value_next = end + 1, False
            continue
        if text in ("-delete", "-fprint", "-fprint0", "-fprintf", "-fls"):
            reader.writes()
        if not value_next and reader.may_be_option(word):
            reader.problem(f"find {_show(word.raw)}: an argument only known at run time, where find reads its expression "
                           "(it could be -exec or -delete); spell it out")
        value_next = not value_next and text.startswith("-") and text not in _FIND_NO_VALUE and not word.dynamic
        i += 1


_TAR = _Options(
    values="bCfFgHIKLNTVX",
    long_values=("file", "directory", "exclude", "files-from", "exclude-from", "transform", "xform", "owner", "group", "mode",
                 "mtime", "newer", "after-date", "label", "format", "suffix", "blocking-factor", "record-size", "tape-length",
                 "to-command", "checkpoint-action", "use-compress-program", "info-script", "new-volume-script", "rsh-command",
                 "rmt-command", "index-file", "volno-file", "exclude-tag", "warning", "quoting-style", "occurrence"),
    refused={"I": _RUNS, "F": "it runs a script at the end of each volume", "to-command": "it pipes each file to a command",
             "checkpoint-action": "it can run a command at each checkpoint", "use-compress-program": _RUNS,
             "info-script": "it runs a script at the end of each volume", "new-volume-script": "it runs a script at the end of each volume",
             "rsh-command": _RUNS, "rmt-command": _RUNS},
    safe_long=("checkpoint",),
)
_TAR_COMPRESSORS = {"z": "gzip", "j": "bzip2", "J": "xz", "Z": "compress", "gzip": "gzip", "gunzip": "gzip", "ungzip": "gzip",
                    "bzip2": "bzip2", "xz": "xz", "lzma": "lzma", "zstd": "zstd", "lzip": "lzip", "lzop": "lzop",
                    "compress": "compress", "uncompress": "compress"}


def _check_tar(reader: _Reader, tool: str, args: list[Word]) -> None:
    if args and not args[0].text.startswith("-") and not reader.may_be_option(args[0]):
        args = [Word(text="-" + args[0].text, raw=args[0].raw, lead=("lit", "-")), *args[1:]]  # old style: `tar czf a.tgz dir`
    reader.options(tool, args, _TAR)
    letters, names = "", set()
    for arg in args[: _dashdash(args)]:
        if arg.text.startswith("--"):
            names.add(arg.text[2:].split("=", 1)[0])
        elif arg.text.startswith("-"):
            letters += re.split(r"[bCfFgHIKLNTVX]", arg.text[1:], maxsplit=1)[0]
    for key in [*letters, *names]:
        if key in _TAR_COMPRESSORS:
            reader.result.programs.append(_TAR_COMPRESSORS[key])  # tar runs it; what it writes is tar's
    listing = "t" in letters or "d" in letters or names & {"list", "diff", "compare"}
    to_stdout = "O" in letters or "to-stdout" in names
    if listing or (to_stdout and ("x" in letters or names & {"extract", "get"})):
        return
    reader.writes()


_GIT_READS = {"status", "log", "diff", "show", "blame", "annotate", "grep", "ls-files", "ls-tree", "rev-parse", "rev-list",
              "describe", "shortlog", "cat-file", "diff-tree", "diff-files", "diff-index", "name-rev", "for-each-ref",
              "show-ref", "show-branch", "check-ignore", "check-attr", "check-ref-format", "count-objects", "whatchanged",
              "version", "merge-base", "cherry", "range-diff", "var", "verify-commit", "verify-tag", "fsck", "ls-remote",
              "get-tar-commit-id"}
_GIT_WRITES = {"init", "add", "rm", "mv", "commit", "checkout", "switch", "restore", "reset", "stash", "merge", "cherry-pick",
               "revert", "apply", "am", "format-patch", "tag", "branch", "notes", "clean", "gc", "repack", "prune", "worktree",
               "clone", "fetch", "pull", "push", "archive", "update-index", "write-tree", "read-tree", "hash-object", "mktree",
               "commit-tree", "update-ref", "symbolic-ref", "reflog", "rebase", "bundle", "replace", "sparse-checkout",
               "rerere", "remote", "mailinfo", "mailsplit"}
_GIT_REFUSED = {"config": "git config changes settings that can name programs to run (aliases, pagers, hooks, drivers)",
                "hook": "git hook runs the repository's hooks", "bisect": "git bisect run runs a command",
                "submodule": "git submodule foreach runs commands", "difftool": "git difftool runs a diff program",
                "mergetool": "git mergetool runs a merge program", "filter-branch": "git filter-branch runs shell commands",
                "help": "git help starts man or a browser", "maintenance": "git maintenance schedules commands"}
_GIT_OPTIONS = _Options(refused={"upload-pack": _RUNS, "receive-pack": _RUNS, "exec": _RUNS, "ext-diff": "it runs an external diff program",
                                 "open-files-in-pager": "it runs a pager", "config": "it sets configuration, which can name programs",
                                 "template": "it installs hooks from a directory", "extcmd": _RUNS},
                        writes=("output",))


def _check_git(reader: _Reader, tool: str, args: list[Word]) -> None:
    i = 0
    while i < len(args) and (args[i].text.startswith("-") or reader.may_be_option(args[i])):
        word, text = args[i], args[i].text
        if reader.may_be_option(word):
            reader.problem(f"git {_show(word.raw)}: an argument only known at run time, where git reads its options; spell it out")
            return
        if text == "-c" or text.startswith(("-c", "--config-env")) or text.startswith("--exec-path="):
            reader.problem(f"git {text.split('=', 1)[0]}: it sets configuration or the program directory, which can name programs to run")
            return
        if text in ("-p", "--paginate"):
            reader.problem("git -p runs a pager")
        i += 2 if text in ("-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix") else 1
    if i >= len(args):
        return
    sub = args[i].text
    if args[i].dynamic or sub in _GIT_REFUSED or (sub not in _GIT_READS and sub not in _GIT_WRITES):
        why = _GIT_REFUSED.get(sub, "not a git command Babel's reader knows: an alias or a git-" + sub + " program would run")
        reader.problem(f"git {_show(args[i].raw)}: {why}")
        return
    if sub in _GIT_WRITES:
        reader.writes()
    short = {"u": _RUNS} if sub in ("clone", "ls-remote") else {"O": "it runs a pager"} if sub == "grep" else \
        {"x": "it runs a command after each commit", "i": "it runs an editor"} if sub == "rebase" else \
        {"c": "it sets configuration, which can name programs"} if sub == "clone" else {}
    refused = {**_GIT_OPTIONS.refused, **short, **({"interactive": "it runs an editor"} if sub == "rebase" else {})}
    reader.options(f"git {sub}", args[i + 1 :], _Options(refused=refused, writes=_GIT_OPTIONS.writes,
                                                         values="" if sub in ("clone", "ls-remote", "grep", "rebase") else "mFCS"))


def _check_zip(reader: _Reader, tool: str, args: list[Word]) -> None:
    for arg in args[: _dashdash(args)]:
        if arg.text.startswith("-") and not arg.text.startswith("--") and "TT" in arg.text:
            reader.problem("zip -TT: it runs a command to test the archive")
        elif arg.text == "-T" or arg.text.startswith("--test"):
            reader.program("unzip")  # zip -T tests the archive with unzip
        elif _prefix_of(arg.text[2:].split("=", 1)[0], ("unzip-command",)) and arg.text.startswith("--"):
            reader.problem("zip --unzip-command: it runs a command to test the archive")
        elif reader.may_be_option(arg):
            reader.problem(f"zip {_show(arg.raw)}: an argument only known at run time, where zip reads options; spell it out")


def _check_sqlite(reader: _Reader, tool: str, args: list[Word]) -> None:
    if any(a.text == "-safe" for a in args):
        return  # sqlite3's own safe mode refuses all of this
    for arg in args:
        if arg.text in ("-init", "--init"):
            reader.problem("sqlite3 -init runs commands from a file")
        for line in arg.text.splitlines():
            if re.match(r"\s*\.(shell|system|load|read|once|output|import)\b.*\||\s*\.(shell|system|load|read)\b", line) \
                    or re.search(r"load_extension|\bedit\s*\(", line):
                reader.problem("sqlite3: this command runs a program, loads code, or reads commands from a file")


_AWK_LONG = {"field-separator": "F", "assign": "v", "source": "e", "include": "i", "file": "f", "exec": "E", "load": "l",
             "debug": "D", "dump-variables": "d", "profile": "p", "pretty-print": "o"}
_AWK_VALUED = "FveifEl"  # options whose value may be the next word


def _awk_option(word: Word, nxt: Word | None) -> tuple[str, Word | None, bool]:
    """An awk option as its one-letter name, its value, and whether that value is the next word."""
    text = word.text
    if text.startswith("--"):
        given, equals, value = text[2:].partition("=")
        # an abbreviation several options share is read as the riskiest of them
        matches = sorted((letter for long, letter in _AWK_LONG.items() if given and long.startswith(given)), key=lambda n: n not in "fElD")
        name = matches[0] if matches else given
    else:
        name, equals, value = text[1], "", text[2:]
    if equals or value:
        return name, Word(text=value, raw=word.raw, dynamic=word.dynamic), False
    if name in _AWK_VALUED and nxt is not None:
        return name, nxt, True
    return name, None, False


def _check_awk(reader: _Reader, tool: str, args: list[Word]) -> None:
    programs: list[Word] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word.raw == "--":
            i += 1
            break
        if not word.text.startswith("-") or word.text == "-" or reader.may_be_option(word):
            break
        name, value, next_word = _awk_option(word, args[i + 1] if i + 1 < len(args) else None)
        if name in "fE" or name in ("l", "W", "D"):
            reader.problem(f"{tool} {_show(word.raw)}: it reads its program from a file, loads code or runs a debugger, "
                           "none of which Babel reads; put the program in the command")
        elif name == "i" and (value is None or value.text != "inplace"):
            reader.problem(f"{tool} {_show(word.raw)}: it includes a program file Babel does not read")
        elif name in "idpo":
            reader.writes()  # -i inplace edits files; -d, -p, -o write awkvars.out, awkprof.out, ...
        elif name == "e" and value is not None:
            programs.append(value)
        i += 1 + next_word
    if not programs:
        if i >= len(args):
            return
        programs = [args[i]]
    for program in programs:
        if program.dynamic:
            reader.problem(f"the {tool} program is only known at run time: pass values with -v NAME=VALUE")
            continue
        problems, targets, unknown = _awk_program(program.text)
        if not re.search(r"system|[|@>]|/inet", program.text):
            # without these, an awk program can neither run a command nor write a file,
            # however awk reads it: one this reader cannot parse is awk's to reject
            problems = [p for p in problems if not p.startswith("cannot")]
        for message in problems:
            reader.problem(f"{tool}: {message}")
        if targets or unknown:
            reader.writes()
        reader.result.redirect_targets += targets


_AWK_KEYWORDS = {"BEGIN", "END", "BEGINFILE", "ENDFILE", "function", "func", "if", "else", "while", "for", "do", "break",
                 "continue", "next", "nextfile", "exit", "return", "delete", "in", "case", "default", "switch", "print", "printf"}
_AWK_TOKEN = re.compile(r"""(?P<space>[ \t\r]+|\\\r?\n)|(?P<comment>\#[^\n]*)|(?P<nl>[\n;])|(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<pipe>\|\||\|&?)|(?P<op>\+\+|--|>>|.)""", re.VERBOSE | re.DOTALL)


def _awk_program(text: str) -> tuple[list[str], list[str], bool]:
    """What an awk program does beyond reading and printing: problems (it runs commands,
    or cannot be read), the files it writes by name, and whether it writes others."""
    problems: list[str] = []
    targets: list[str] = []
    unknown = False
    i, depth, after = 0, 0, "op"  # after: what the last token ends ("operand" | "op" | "unsure")
    print_depth: int | None = None
    redirect = False
    condition_parens: list[bool] = []  # for each open paren: does it hold an if/while/for condition?
    last_name = ""
    while i < len(text):
        if text[i] == "/" and after != "operand":
            if after == "unsure":
                return [*problems, "cannot tell a regular expression from a division in this program"], targets, unknown
            end = _regex_end(text, i + 1, "/")
            if end < 0:
                return [*problems, "cannot read this program (a regular expression is never closed)"], targets, unknown
            i, after = end, "operand"
            continue
        match = _AWK_TOKEN.match(text, i)
        if match is None:  # only an unterminated string gets here
            return [*problems, "cannot read this program (a string is never closed)"], targets, unknown
        kind, token = match.lastgroup or "op", match.group(0)
        i = match.end()
        if kind in ("space", "comment"):
            continue
        if redirect:  # the file a print statement writes to
            redirect = False
            if kind == "string" and token[1:-1] not in _QUIET_TARGETS and token != '"-"':
                targets.append(token[1:-1])
            elif kind != "string":
                unknown = True
        if kind == "nl" or token == "}":
            print_depth = None if print_depth is None or depth <= print_depth else print_depth
            after = "op"
        elif kind == "string":
            if token.startswith('"/inet'):
                problems.append("gawk's /inet special files open network connections")
            after = "operand"
        elif kind == "name":
            if token == "system":
                problems.append("system() runs a command")
            if token in ("print", "printf"):
                print_depth = depth
            after = "unsure" if token in ("getline", "length") else "op" if token in _AWK_KEYWORDS else "operand"
            last_name = token
            continue
        elif kind == "number":
            after = "operand"
        elif kind == "pipe":
            if token != "||":
                problems.append("a pipe (`|` to or from a command) runs a command")
            after = "op"
        elif token == "@":
            problems.append("gawk's @ (indirect calls, @load, @include) is not allowed")
            after = "op"
        elif token in (">", ">>") and print_depth is not None and depth == print_depth:
            redirect, after = True, "op"
        elif token == "(":
            condition_parens.append(last_name in ("if", "while", "for", "switch"))
            depth, after = depth + 1, "op"
        elif token == ")":
            depth = max(depth - 1, 0)
            after = "op" if condition_parens and condition_parens.pop() else "operand"
        elif token == "]":
            after = "operand"
        elif token not in ("++", "--"):  # ++ and -- leave what came before as it was
            after = "op"
        last_name = ""
    if redirect:
        unknown = True
    return problems, targets, unknown


def _regex_end(text: str, i: int, delimiter: str) -> int:
    """Just past the `delimiter` that ends a regular expression starting at i, as GNU sed
    and gawk find it: a backslash escapes, a bracket expression may hold the delimiter;
    -1 when it never ends (or a newline comes first)."""
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "\n":
            return -1
        if char == delimiter:
            return i + 1
        if char == "[":
            i = _bracket_end(text, i)
            if i < 0:
                return -1
            continue
        i += 1
    return -1


def _bracket_end(text: str, i: int) -> int:
    """Just past the `]` that closes the bracket expression opening at i, or -1."""
    j = i + 1
    if text.startswith("^", j):
        j += 1
    if text.startswith("]", j):
        j += 1
    while j < len(text) and text[j] != "]":
        if text[j] == "[" and text[j + 1 : j + 2] in (":", ".", "="):
            close = text.find(text[j + 1] + "]", j + 2)
            if close < 0:
                return -1
            j = close + 2
            continue
        if text[j] == "\n":
            return -1
        j += 1
    return j + 1 if j < len(text) else -1


def _check_sed(reader: _Reader, tool: str, args: list[Word]) -> None:
    scripts: list[Word] = []
    operands: list[Word] = []
    sandbox = from_file = False
    i = 0
    while i < len(args):
        word, text = args[i], args[i].text
        nxt = args[i + 1] if i + 1 < len(args) else None
        if word.raw == "--":
            operands += args[i + 1 :]
            break
        if reader.may_be_option(word):
            reader.problem(f"sed {_show(word.raw)}: an argument only known at run time, where sed reads options "
                           "(it could be a script that runs commands); put `--` before the files or spell it out")
        elif text.startswith("--") and len(text) > 2:
            given, equals, value = text[2:].partition("=")
            if _prefix_of(given, ("expression",)):
                scripts += [Word(text=value, raw=text)] if equals else [nxt] if nxt else []
                i += not equals
            elif _prefix_of(given, ("file",)):
                from_file = True
                reader.problem(f"sed {text}: it reads its script from a file Babel does not read; put the script in the command")
            elif _prefix_of(given, ("in-place",)):
                reader.writes()
            elif given == "sandbox":
                sandbox = True
            i += _prefix_of(given, ("line-length",)) is not None and not equals
        elif text.startswith("-") and len(text) > 1:
            for j, letter in enumerate(text[1:], 1):
                rest = text[j + 1 :]
                if letter == "e":
                    scripts += [Word(text=rest, raw=text)] if rest else [nxt] if nxt else []
                    i += not rest
                elif letter == "f":
                    from_file = True
                    reader.problem(f"sed {text}: it reads its script from a file Babel does not read; put the script in the command")
                elif letter == "i":
                    reader.writes()
                elif letter == "l":
                    i += not rest
                else:
                    continue
                break
        else:
            operands.append(word)
        i += 1
    if not scripts and not from_file and operands:
        scripts = [operands[0]]
    for script in scripts:
        if script.dynamic:
            reader.problem("the sed script is only known at run time: spell it out")
            continue
        problems, targets = _sed_script(script.text)
        if not re.search(r"[ewW]", script.text):
            # a script with no e or w anywhere can neither run a command nor write a file,
            # however sed reads it: one this reader cannot parse is sed's to reject
            problems = [p for p in problems if not p.startswith("cannot read")]
        for message in problems if not sandbox else []:
            reader.problem(f"sed: {message}")
        if targets:
            reader.result.writes = True
            reader.result.redirect_targets += targets


def _sed_script(text: str) -> tuple[list[str], list[str]]:
    """What a sed script does beyond editing the stream: problems (it runs commands, or
    cannot be read) and the files it writes (`w`, `W`, `s///w`)."""
    problems: list[str] = []
    targets: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in " \t\n;":
            i += 1
            continue
        if text[i] == "#":
            i = _line_end(text, i)
            continue
        i = _sed_address(text, i)
        if i >= 0 and text.startswith(",", i):
            i = _sed_address(text, i + 1)
        while 0 <= i < len(text) and text[i] in " \t!":
            i += 1
        if i < 0 or i >= len(text):
            return [*problems, "cannot read this script (an address is unterminated or has no command)"], targets
        command = text[i]
        if command in "{}":  # a block: the commands inside follow at once
            i += 1
            continue
        i, problem, target = _sed_command(text, i + 1, command)
        if problem:
            problems.append(problem)
            if i < 0:
                return problems, targets
        if target is not None and target not in _QUIET_TARGETS:
            targets.append(target)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] not in ";\n}#":
            return [*problems, f"cannot read this script (unexpected {text[i]!r} after the {command!r} command)"], targets
    return problems, targets


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _sed_address(text: str, i: int) -> int:
    """Just past the address at i (none is fine); -1 when it is unreadable."""
    if i >= len(text):
        return i
    if text[i] in "0123456789+~":
        match = re.compile(r"[+~]?\d+(~\d+)?").match(text, i)
        return match.end() if match else -1
    if text[i] == "$":
        return i + 1
    if text[i] == "/" or (text[i] == "\\" and i + 1 < len(text) and text[i + 1] not in "\n\\"):
        start, delimiter = (i + 1, "/") if text[i] == "/" else (i + 2, text[i + 1])
        end = _regex_end(text, start, delimiter)
        while 0 <= end < len(text) and text[end] in "IM":
            end += 1
        return end
    return i


def _sed_command(text: str, i: int, command: str) -> tuple[int, str | None, str | None]:
    """One command's arguments: (just past them, or -1 if unreadable; a problem; a file it writes)."""
    if command in "=dDgGhHnNpPxzF":
        return i, None, None
    if command in "aic":  # text to the end of the line; a backslash-newline continues it
        while True:
            end = _line_end(text, i)
            if not (text[i:end].endswith("\\") and not text[i:end].endswith("\\\\")) or end >= len(text):
                return end, None, None
            i = end + 1
    if command in ":btTv":  # a label (or version) up to `;` or the end of the line
        match = re.compile(r"[ \t]*[^;\n]*").match(text, i)
        return (match.end() if match else i), None, None
    if command in "rRwW":  # a file name, to the end of the line
        end = _line_end(text, i)
        name = text[i:end].strip()
        return end, None, name if command in "wW" else None
    if command in "lLqQ":
        match = re.compile(r"[ \t]*\d*").match(text, i)
        return (match.end() if match else i), None, None
    if command == "e":
        return _line_end(text, i), "the e command runs a command", None
    if command in "sy":
        return _sed_substitute(text, i, command)
    return -1, f"cannot read this script (unknown command {command!r})", None


def _sed_substitute(text: str, i: int, command: str) -> tuple[int, str | None, str | None]:
    if i >= len(text) or text[i] in "\n\\":
        return -1, f"cannot read this script (the {command} command has no delimiter)", None
    delimiter = text[i]
    end = _regex_end(text, i + 1, delimiter) if command == "s" else _plain_end(text, i + 1, delimiter)
    end = _plain_end(text, end, delimiter) if end >= 0 else -1
    if end < 0:
        return -1, f"cannot read this script (an unterminated {command} command)", None
    if command == "y":
        return end, None, None
    problem = None
    while end < len(text):
        flag = text[end]
        if flag == "e":
            problem = "the s///e flag runs the pattern space as a command"
        elif flag == "w":
            line_end = _line_end(text, end + 1)
            return line_end, problem, text[end + 1 : line_end].strip()
        elif flag not in "gpiImM0123456789":
            break
        end += 1
    return end, problem, None


def _plain_end(text: str, i: int, delimiter: str) -> int:
    """Just past the unescaped `delimiter` from i (a replacement, or y's lists), or -1."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == delimiter:
            return i + 1
        if text[i] == "\n":
            return -1
        i += 1
    return -1


_CHECKS: dict[str, Check] = {
    "xargs": _check_xargs,
    "env": _check_env,
    "flock": _check_flock,
    "timeout": _wrapper(_Options(values="sk", long_values=("signal", "kill-after"), posix=True), skip=1),
    "nice": _wrapper(_Options(values="n", long_values=("adjustment",), posix=True)),
    "nohup": _wrapper(_Options(posix=True)),
    "stdbuf": _wrapper(_Options(values="ioe", long_values=("input", "output", "error"), posix=True)),
    "find": _check_find,
    "sort": lambda r, t, a: None if r.options(t, a, _Options(
        values="kotST", long_values=("key", "output", "field-separator", "buffer-size", "temporary-directory", "compress-program",
                                     "files0-from", "parallel", "batch-size", "sort", "random-source"),
        refused={"compress-program": "it runs a program to compress temporary files"}, writes=("o", "output"))) else None,
    "tar": _check_tar,
    "git": _check_git,
    "split": lambda r, t, a: None if r.options(t, a, _Options(
        values="abCdlnt", long_values=("filter", "suffix-length", "bytes", "line-bytes", "lines", "number", "additional-suffix"),
        refused={"filter": "it pipes each part to a shell command"})) else None,
    "rg": lambda r, t, a: None if r.options(t, a, _Options(
        values="efgtTmACBrEjMd", long_values=("pre", "pre-glob", "regexp", "file", "glob", "iglob", "type", "type-not", "max-count",
                                              "max-depth", "context", "after-context", "before-context", "replace", "encoding"),
        refused={"pre": "it runs a program on every file searched", "hostname-bin": _RUNS})) else None,
    "zip": _check_zip,
    "sqlite3": _check_sqlite,
    "awk": _check_awk, "gawk": _check_awk, "mawk": _check_awk, "nawk": _check_awk,
    "sed": _check_sed,
    "uniq": lambda r, t, a: r.writes() if len(r.options(t, a, _Options(values="fsw", long_values=("skip-fields", "skip-chars", "check-chars")))) >= 2 else None,
    "shuf": lambda r, t, a: None if r.options(t, a, _Options(values="inoe", long_values=("input-range", "head-count", "output", "random-source"),
                                                             writes=("o", "output"))) else None,
    "tree": lambda r, t, a: None if r.options(t, a, _Options(values="oLPIH", long_values=("filelimit", "timefmt", "sort", "charset"),
                                                             writes=("o",))) else None,
    "perl": lambda r, t, a: r.writes() if any(w.text.startswith("-i") or (w.text.startswith("-") and "i" in w.text[1:2]) for w in a) else None,
}


# ---- entry points -----------------------------------------------------------------


def read_command_line(cmd: str) -> CommandLine:
    """What a `/bin/sh -c cmd` command line starts and writes, and what in it cannot be read."""
    result = CommandLine()
    if len(cmd) > _MAX_LENGTH:
        result.problems.append(f"the command line is too long to check ({len(cmd)} characters; at most {_MAX_LENGTH})")
        return result
    if "\x00" in cmd:
        result.problems.append("the command line contains a NUL byte")
        return result
    try:
        tokens = _Lexer(cmd, result.problems).tokens()
        _Reader(result).read(tokens)
    except (RecursionError, MemoryError):
        result.problems.append("the command line is nested too deeply to be read")
    except Exception as error:  # a reader bug must refuse the command, never crash the verifier
        result.problems.append(f"cannot read the command line ({type(error).__name__}: {error})")
    return result


def read_argv(argv: list[str | None]) -> CommandLine:
    """What an argv (run without a shell) starts and writes; None stands for an argument
    only known at run time."""
    result = CommandLine()
    words = [Word(text=a, raw=shlex.quote(a), lead=("lit", a[:1]) if a else None) if a is not None
             else Word(text="$ARG", raw="$ARG", dynamic=True, lead=("dyn", "")) for a in argv]
    try:
        _Reader(result).run(words, wrapped=True)
    except (RecursionError, MemoryError):
        result.problems.append("the argv is nested too deeply to be read")
    except Exception as error:  # a reader bug must refuse the command, never crash the verifier
        result.problems.append(f"cannot read the argv ({type(error).__name__}: {error})")
    return result


def quote_argv(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
