"""What shape of answer a request asks for, checked against a dry run's output.

A request often says what its answer must look like: "how many" wants a number, "sorted"
wants sorted lines, "yes or no" wants one of those words. These are cheap, deterministic
checks of a candidate's dry-run output, so the decoder can prefer the candidates whose
output has the asked-for shape (a syndrome derived from the request itself). They only
rerank candidates; they never change a plan or a result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeCheck:
    name: str
    holds: Callable[[str], bool]


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


_WORDS = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}
_NULL = re.compile(r"^\s*-?0+(\.0+)?\s*$")


def is_null(text: str) -> bool:
    """An answer that says "nothing": empty, or a zero. Plans that miss their target print these."""
    return not text.strip() or bool(_NULL.match(text))


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _decimals(places: int) -> Callable[[str], bool]:
    pattern = re.compile(rf"^\s*-?\d+\.\d{{{places}}}\s*$")
    return lambda text: bool(pattern.match(text))


def _quoted(request: str) -> list[str]:
    return [a or b for a, b in re.findall(r'"([^"]{2,40})"|\'([^\']{2,40})\'', request)]


# Values of a recognisable kind: a request for them wants every output line to have one.
_TYPED = (
    (r"\bemails?( addresses)?\b", re.compile(r"[^\s@]+@[^\s@]+"), "email addresses"),
    (r"\bip addresse?s?\b|\bip\b", re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"), "IP addresses"),
    (r"\burls?\b", re.compile(r"\w+://\S+"), "URLs"),
)


_LIST = re.compile(r"\b(list|which|one per line|each|names|paths)\b")
_COUNT = re.compile(r"\b(how many|how much|count (the|of|all)|number of|just the number|only the number|total|sum of|average|"
                    r"what is the (sum|total|average|mean|highest|lowest|largest|smallest|maximum|minimum))\b")
_DECIMALS = re.compile(r"\b(one|two|three|[123]) decimals?( places?| digits?)?\b")
_SORTED = re.compile(r"\b(sorted|alphabetical(ly)?|ascending|descending)\b")
_DESCENDING = re.compile(r"\b(descending|reverse|(largest|biggest|highest|most [a-z]+) first)\b")
_SHOW_LINES = re.compile(r"\b(print|show|list|output|give)\b( me)? (the |all |every )?(matching )?(lines|rows|entries|files|names|paths|matches)\b")
_MENTIONS_COUNT = re.compile(r"\b(number|count|how many)\b")
_BARE_NAMES = re.compile(r"\b((only|just) (its|their|the) (file ?)?names?|base ?names?|(file ?)?names? only|"
                         r"without (the |their )?(director(y|ies)|folders?|paths?))\b")
_RELATIVE = re.compile(r"\brelative (to|paths?)\b")
_ONE = re.compile(r"\b(only|just) (its|the|one) ([a-z]+ )?(name|path|value|word|line|number|address|version|id)\b|"
                  r"\bwhich (one|file|line|word|user|directory|function|class|host|key|column|process)\b[^.?!]*\b(is|has|was) the "
                  r"(largest|biggest|smallest|longest|shortest|most|least|highest|lowest|oldest|newest)\b")
_NUMBER_LINES = re.compile(r"\b(line numbers|one number per line|numbers, one per line)\b")
_FILES = re.compile(r"\bwhich ([.\w]+ )?files?\b|\b(its|their|the) (relative )?(file ?)?(paths?|file ?names?)\b|\bnames of the( [.\w]+)? files\b")
_NOT_FILES = re.compile(r"\b(lines?|how many|count|number of|size|contents?)\b|:")
_ASK_LINES = re.compile(r"\b(print|show|list|find|display|output)\b")
_NOT_LINES = re.compile(r"\b(files?|names?|paths?|how many|count|number)\b")


def _has(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda line: pattern.search(line) is not None


def _all_lines(test: Callable[[str], bool]) -> Callable[[str], bool]:
    """Output that has lines, every one of them passing `test`."""
    return lambda output: bool(_lines(output)) and all(test(line) for line in _lines(output))


def checks_for(request: str) -> list[ShapeCheck]:
    """The shape checks a request implies (none when it implies nothing).

    Each check is deliberately conservative: it names a property that any right answer
    to such a request has, so a candidate lacking it is very likely wrong.
    """
    text = request.lower()
    found: list[ShapeCheck] = []
    wants_number = _COUNT.search(text) is not None and not _LIST.search(text)
    if wants_number:
        found.append(ShapeCheck("a number", _is_number))
        places = _DECIMALS.search(text)
        if places:
            n = _WORDS[places.group(1)]
            found.append(ShapeCheck(f"{places.group(1)} decimal{'s' if n > 1 else ''}", _decimals(n)))
    if _SORTED.search(text):
        descending = _DESCENDING.search(text) is not None
        found.append(ShapeCheck("sorted lines", lambda output: _sorted(output, descending)))
    if re.search(r"\byes or no\b", text):
        found.append(ShapeCheck("yes or no", _is_yes_no))
    if not wants_number and _SHOW_LINES.search(text) and not _MENTIONS_COUNT.search(text):
        found.append(ShapeCheck("lines, not a count", lambda output: not _is_number(output)))
    if _BARE_NAMES.search(text):
        found.append(ShapeCheck("names without directories", lambda output: all("/" not in line for line in _lines(output))))
    if _RELATIVE.search(text):
        found.append(ShapeCheck("relative paths", lambda output: all(not line.lstrip().startswith(("/", "./")) for line in _lines(output))))
    if _ONE.search(text):
        found.append(ShapeCheck("one line", lambda output: len(_lines(output)) == 1))
    if _NUMBER_LINES.search(text) and not wants_number:
        found.append(ShapeCheck("numbers, one per line", _all_lines(_is_number)))
    if _FILES.search(text) and not _NOT_FILES.search(text):
        found.append(ShapeCheck("file paths", lambda output: all(len(line.split()) == 1 for line in _lines(output))))
    for words, pattern, name in _TYPED:
        if re.search(words, text) and not wants_number:
            found.append(ShapeCheck(name, _all_lines(_has(pattern))))
    terms = [term.lower() for term in _quoted(request)]
    if terms and _ASK_LINES.search(text) and re.search(r"\blines?\b", text) and not _NOT_LINES.search(text):
        found.append(ShapeCheck("lines with the quoted text", _all_lines(lambda line: any(t in line.lower() for t in terms))))
    return found


_EDIT = re.compile(r"\b(change|replace|edit|modify|update|set|rename|delete|remove|append|add|insert|write|create|save|fix|move|"
                   r"copy|make|generate|touch|convert|in place|overwrite|strip|truncate|clean|reformat|uncomment|comment out)\b")


def wants_edit(request: str) -> bool:
    """Whether the request asks for a change to files at all; a question does not, and a
    plan that writes while answering one has misread it."""
    return _EDIT.search(request.lower()) is not None


def result_problem(request: str, result: str) -> str | None:
    """Why a read-only plan's result is not an answer to the request, or None if it may be.

    The control loop treats such a result as the final step's invalid output and repairs
    that step (babel.run's `check_result`): an empty result, one without the asked-for
    shape, or a zero where a number is asked for. A repair's result replaces the first
    only if it passes, so a count that is rightly zero stays zero.
    """
    if not result.strip():
        return "it printed nothing, and the request asks for an answer"
    checks = checks_for(request)
    for check in checks:
        if not check.holds(result):
            return f"the request asks for {check.name}, and its output is not"
    if any(check.name == "a number" for check in checks) and is_null(result):
        return "it printed zero, which usually means the command looked in the wrong place or for the wrong thing"
    return None


# ---- what the request names, checked against a plan's text --------------------------

_NUMBER_IN_REQUEST = re.compile(r"(?<![\w.\-/])(\d+)(?![\w.]*\w)")
_NUMBER_IN_PLAN = re.compile(r"\d+")
_CURRENT_DIR = re.compile(r"\b(current|this|working) (directory|folder|dir)\b")


def _absolute_paths(request: str, mount: str) -> list[str]:
    root = mount.rstrip("/") or "/"
    return [p.rstrip("/.,;:?!'\"") for p in re.findall(rf"(?<![\w/]){re.escape(root)}(?:/[^\s'\",;:?!]*)?", request)]


def plan_misses(request: str, plan_text: str, mount: str = "/workspace") -> list[str]:
    """What a plan leaves out of what the request names, read from the plan's text alone:
    a number the request gives (10 kilobytes, the last 7 days, lines 3 through 6), a
    directory it names by absolute path, or the current directory it says. A plan that
    drops one usually answers a nearby question instead: `-size +100k` for "bigger than
    10 kilobytes", `find .` for "the largest file in /testbed/media", `find /testbed` for
    "empty directories in the current directory". Like the answer-shape checks, these
    only lower a candidate's weight in the vote."""
    misses = []
    numbers = {n for n in _NUMBER_IN_REQUEST.findall(request) if len(n) <= 6}
    in_plan = set(_NUMBER_IN_PLAN.findall(plan_text))
    lacking = sorted(numbers - in_plan)
    if lacking:
        misses.append(f"the number{'s' if len(lacking) > 1 else ''} {', '.join(lacking)} from the request")
    root = mount.rstrip("/") or "/"
    for path in _absolute_paths(request, mount):
        relative = path[len(root):].strip("/") if root != "/" else path.strip("/")
        if path not in plan_text and not (relative and re.search(rf"(?<![\w.-]){re.escape(relative)}(?![\w-])", plan_text)):
            misses.append(f"the directory {path}")
    if _CURRENT_DIR.search(request.lower()) and root != "/" and re.search(rf"(?<![\w/]){re.escape(root)}(?![\w])", plan_text):
        misses.append("the current directory (it names the absolute path instead)")
    return misses
