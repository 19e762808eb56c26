"""Whether an output has the shape of answer a request asks for, and a plan what it names.

A request often says what its answer must look like: "how many" wants a number, "sorted"
wants sorted lines, "yes or no" wants one of those words (`babel.compiler.intent` reads
that from the request). These are cheap, deterministic checks of a candidate's dry-run
output, so the decoder can prefer the candidates whose output has the asked-for shape (a
syndrome derived from the request itself). They only rerank candidates; they never
change a plan or a result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from babel.compiler.intent import Ask, Shape, intent


@dataclass(frozen=True)
class ShapeCheck:
    ask: Ask
    holds: Callable[[str], bool]

    @property
    def shape(self) -> Shape:
        return self.ask.shape

    @property
    def name(self) -> str:
        return self.ask.name


NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _is_number(text: str) -> bool:
    return bool(NUMBER.match(text))


def _key(line: str) -> tuple[int, float | str]:
    try:
        return (0, float(line.split()[0]))
    except (ValueError, IndexError):
        return (1, line)


def _sorted(text: str, descending: bool) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return True
    keys: list[Callable[[str], object]] = [lambda s: s, str.lower, _key]
    for key in keys:
        values = [key(line) for line in lines]
        try:
            if values == sorted(values, reverse=descending):  # type: ignore[type-var]
                return True
        except TypeError:
            continue
    return False


def _is_yes_no(text: str) -> bool:
    return text.strip().lower() in ("yes", "no", "true", "false")


_NULL = re.compile(r"^\s*-?0+(\.0+)?\s*$")


def is_null(text: str) -> bool:
    """An answer that says "nothing": empty, or a zero. Plans that miss their target print these."""
    return not text.strip() or bool(_NULL.match(text))


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _decimals(places: int) -> Callable[[str], bool]:
    pattern = re.compile(rf"^\s*-?\d+\.\d{{{places}}}\s*$")
    return lambda text: bool(pattern.match(text))


def _has(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda line: pattern.search(line) is not None


def _all_lines(test: Callable[[str], bool]) -> Callable[[str], bool]:
    """Output that has lines, every one of them passing `test`."""
    return lambda output: bool(_lines(output)) and all(test(line) for line in _lines(output))


#: What an output of each shape looks like (the shapes with parameters are in `_holds`).
_TESTS: dict[Shape, Callable[[str], bool]] = {
    Shape.NUMBER: _is_number,
    Shape.YES_NO: _is_yes_no,
    Shape.NOT_A_COUNT: lambda output: not _is_number(output),
    Shape.BARE_NAMES: lambda output: all("/" not in line for line in _lines(output)),
    Shape.RELATIVE_PATHS: lambda output: all(not line.lstrip().startswith(("/", "./")) for line in _lines(output)),
    Shape.ONE_LINE: lambda output: len(_lines(output)) == 1,
    Shape.NUMBER_LINES: _all_lines(_is_number),
    Shape.FILE_PATHS: lambda output: all(len(line.split()) == 1 for line in _lines(output)),
    Shape.EMAILS: _all_lines(_has(re.compile(r"[^\s@]+@[^\s@]+"))),
    Shape.IP_ADDRESSES: _all_lines(_has(re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"))),
    Shape.URLS: _all_lines(_has(re.compile(r"\w+://\S+"))),
}


def _holds(ask: Ask) -> Callable[[str], bool]:
    if ask.shape is Shape.DECIMALS:
        return _decimals(ask.places)
    if ask.shape is Shape.SORTED:
        return lambda output: _sorted(output, ask.descending)
    if ask.shape is Shape.QUOTED:
        return _all_lines(lambda line: any(term in line.lower() for term in ask.terms))
    return _TESTS[ask.shape]


def checks_for(request: str) -> list[ShapeCheck]:
    """The shape checks a request implies (none when it implies nothing): one for each
    answer shape it asks for (`babel.compiler.intent`), in the same order."""
    return [ShapeCheck(ask, _holds(ask)) for ask in intent(request).asks]


def result_problem(request: str, result: str) -> str | None:
    """Why a read-only plan's result is not an answer to the request, or None if it may be.

    The control loop treats such a result as the final step's invalid output and repairs
    that step (the machine's result check, babel.vm): an empty result, one without the asked-for
    shape, or a zero where a number is asked for. A repair's result replaces the first
    only if it passes, so a count that is rightly zero stays zero.
    """
    if not result.strip():
        return "it printed nothing, and the request asks for an answer"
    checks = checks_for(request)
    for check in checks:
        if not check.holds(result):
            return f"the request asks for {check.name}, and its output is not"
    if any(check.shape is Shape.NUMBER for check in checks) and is_null(result):
        return "it printed zero, which usually means the command looked in the wrong place or for the wrong thing"
    return None


# ---- what the request names, checked against a plan's text --------------------------

_NUMBER_IN_PLAN = re.compile(r"\d+")


def plan_misses(request: str, plan_text: str, mount: str = "/workspace") -> list[str]:
    """What a plan leaves out of what the request names, read from the plan's text alone:
    a number the request gives (10 kilobytes, the last 7 days, lines 3 through 6), a
    directory it names by absolute path, or the current directory it says. A plan that
    drops one usually answers a nearby question instead: `-size +100k` for "bigger than
    10 kilobytes", `find .` for "the largest file in /testbed/media", `find /testbed` for
    "empty directories in the current directory". Like the answer-shape checks, these
    only lower a candidate's weight in the vote."""
    asked = intent(request)
    misses = []
    lacking = sorted(asked.numbers - set(_NUMBER_IN_PLAN.findall(plan_text)))
    if lacking:
        misses.append(f"the number{'s' if len(lacking) > 1 else ''} {', '.join(lacking)} from the request")
    root = mount.rstrip("/") or "/"
    for path in asked.paths_under(mount):
        relative = path[len(root):].strip("/") if root != "/" else path.strip("/")
        if path not in plan_text and not (relative and re.search(rf"(?<![\w.-]){re.escape(relative)}(?![\w-])", plan_text)):
            misses.append(f"the directory {path}")
    if asked.current_dir and root != "/" and re.search(rf"(?<![\w/]){re.escape(root)}(?![\w])", plan_text):
        misses.append("the current directory (it names the absolute path instead)")
    return misses
