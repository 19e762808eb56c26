"""What a request says it wants, read once from its text: every heuristic over the request.

The compiler's peepholes, the answer-shape checks, the vote and the repair prompt all act
on what the user asked for: the count alone, paths without `./`, a change to files or
only a question, the shape of the answer, the numbers and directories it names. Each of
those is a regular expression over the request's text, and they all live here, read by
`intent(request)` into one frozen `Intent`. Nothing here looks at a plan or an output:
`babel.compiler.shape` checks outputs and plans against what an `Intent` says. The words a
request is matched on to pick its nearest worked examples (`content_words`) are here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class Shape(Enum):
    """A shape of answer a request can ask for. Compared by identity; the value is how
    the prompt and the result check name it (DECIMALS is named by its count, `Ask.name`)."""

    NUMBER = "a number"
    DECIMALS = "decimals"
    SORTED = "sorted lines"
    YES_NO = "yes or no"
    NOT_A_COUNT = "lines, not a count"
    BARE_NAMES = "names without directories"
    RELATIVE_PATHS = "relative paths"
    ONE_LINE = "one line"
    NUMBER_LINES = "numbers, one per line"
    FILE_PATHS = "file paths"
    EMAILS = "email addresses"
    IP_ADDRESSES = "IP addresses"
    URLS = "URLs"
    QUOTED = "lines with the quoted text"


@dataclass(frozen=True)
class Ask:
    """One answer shape a request asks for, with what the request says about it."""

    shape: Shape
    places: int = 0  # DECIMALS: how many
    said: str = ""  # DECIMALS: the count as the request spells it ("one", "2")
    descending: bool = False  # SORTED: largest first
    terms: tuple[str, ...] = ()  # QUOTED: the quoted texts, lower-cased

    @property
    def name(self) -> str:
        """How the prompt and the messages say it: "a number", "two decimals"."""
        if self.shape is Shape.DECIMALS:
            return f"{self.said} decimal{'s' if self.places > 1 else ''}"
        return str(self.shape.value)


@dataclass(frozen=True)
class Intent:
    """What a request asks for, as far as its words tell."""

    request: str
    asks: tuple[Ask, ...] = ()  # answer shapes, in the order they are checked and named
    wants_edit: bool = False  # a change to files, not only a question
    count_only: bool = False  # the count alone ("how many", "only the number"): `wc -l < f`, not `wc -l f`
    no_dot_slash: bool = False  # "relative" anywhere, or "without the leading ./": paths as a/b, not ./a/b
    numbers: frozenset[str] = frozenset()  # numbers the request gives ("10 kilobytes", "the last 7 days")
    current_dir: bool = False  # it says "the current directory" (or folder, or this/working one)
    named: tuple[str, ...] = ()  # workspace paths it names by relative name ("in src", "notes.txt", "logs/"), as src, notes.txt, logs
    sure: tuple[str, ...] = ()  # those of `named` that can only be paths ("logs/", "in notes.txt", "the src directory", "in src", not "in python")

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return tuple(ask.shape for ask in self.asks)

    def paths_under(self, mount: str) -> tuple[str, ...]:
        """The paths the request names absolutely under the workspace's mount point
        (`/testbed/media` with the workspace at /testbed), trailing punctuation dropped."""
        root = mount.rstrip("/") or "/"
        return tuple(p.rstrip("/.,;:?!'\"") for p in re.findall(rf"(?<![\w/]){re.escape(root)}(?:/[^\s'\",;:?!]*)?", self.request))

    def scope(self, mount: str) -> tuple[str, ...]:
        """The workspace paths the request names, relative to the workspace (`src`, `logs/app.log`):
        its relative names and its absolute paths under `mount`; () when it names none (or
        only the workspace itself). A repair keeps to them (babel.vm.control)."""
        root = mount.rstrip("/") or "/"
        absolute = [p[len(root):].strip("/") for p in self.paths_under(mount)]
        return tuple(dict.fromkeys(p for p in (*self.named, *absolute) if p and p != "."))


# ---- answer shapes (over the lower-cased request) -----------------------------------

_COUNT = re.compile(r"\b(how many|how much|count (the|of|all)|number of|just the number|only the number|total|sum of|average|"
                    r"what is the (sum|total|average|mean|highest|lowest|largest|smallest|maximum|minimum))\b")
_LIST = re.compile(r"\b(list|which|one per line|each|names|paths)\b")  # a list of things, even when it says "number of"
_DECIMALS = re.compile(r"\b(one|two|three|[123]) decimals?( places?| digits?)?\b")
_PLACES = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}
_SORTED = re.compile(r"\b(sorted|alphabetical(ly)?|ascending|descending)\b")
_DESCENDING = re.compile(r"\b(descending|reverse|(largest|biggest|highest|most [a-z]+) first)\b")
_YES_OR_NO = re.compile(r"\byes or no\b")
_SHOW_LINES = re.compile(r"\b(print|show|list|output|give)\b( me)? (the |all |every )?(matching )?(lines|rows|entries|files|names|paths|matches)\b")
_MENTIONS_COUNT = re.compile(r"\b(number|count|how many)\b")
_BARE_NAMES = re.compile(r"\b((only|just) (its|their|the) (file ?)?names?|base ?names?|(file ?)?names? only|"
                         r"without (the |their )?(director(y|ies)|folders?|paths?))\b")
#: "relative to ...", "relative path(s)": the answer's lines start with neither / nor ./
_RELATIVE_PATHS = re.compile(r"\brelative (to|paths?)\b")
_ONE = re.compile(r"\b(only|just) (its|the|one) ([a-z]+ )?(name|path|value|word|line|number|address|version|id)\b|"
                  r"\bwhich (one|file|line|word|user|directory|function|class|host|key|column|process)\b[^.?!]*\b(is|has|was) the "
                  r"(largest|biggest|smallest|longest|shortest|most|least|highest|lowest|oldest|newest)\b")
_NUMBER_LINES = re.compile(r"\b(line numbers|one number per line|numbers, one per line)\b")
_FILES = re.compile(r"\bwhich ([.\w]+ )?files?\b|\b(its|their|the) (relative )?(file ?)?(paths?|file ?names?)\b|\bnames of the( [.\w]+)? files\b")
_NOT_FILES = re.compile(r"\b(lines?|how many|count|number of|size|contents?)\b|:")
#: Values of a recognisable kind: a request for them wants every output line to have one.
_TYPED = (
    (Shape.EMAILS, re.compile(r"\bemails?( addresses)?\b")),
    (Shape.IP_ADDRESSES, re.compile(r"\bip addresse?s?\b|\bip\b")),
    (Shape.URLS, re.compile(r"\burls?\b")),
)
_QUOTED = re.compile(r'"([^"]{2,40})"|\'([^\']{2,40})\'')  # over the request as typed
_ASK_LINES = re.compile(r"\b(print|show|list|find|display|output)\b")
_LINES = re.compile(r"\blines?\b")
_NOT_LINES = re.compile(r"\b(files?|names?|paths?|how many|count|number)\b")


def _asks(request: str) -> tuple[Ask, ...]:
    """The answer shapes a request implies (none when it implies nothing). Each is
    deliberately conservative: a property that any right answer to such a request has."""
    text = request.lower()
    found: list[Ask] = []
    wants_number = _COUNT.search(text) is not None and not _LIST.search(text)
    if wants_number:
        found.append(Ask(Shape.NUMBER))
        places = _DECIMALS.search(text)
        if places:
            found.append(Ask(Shape.DECIMALS, places=_PLACES[places.group(1)], said=places.group(1)))
    if _SORTED.search(text):
        found.append(Ask(Shape.SORTED, descending=_DESCENDING.search(text) is not None))
    if _YES_OR_NO.search(text):
        found.append(Ask(Shape.YES_NO))
    if not wants_number and _SHOW_LINES.search(text) and not _MENTIONS_COUNT.search(text):
        found.append(Ask(Shape.NOT_A_COUNT))
    if _BARE_NAMES.search(text):
        found.append(Ask(Shape.BARE_NAMES))
    if _RELATIVE_PATHS.search(text):
        found.append(Ask(Shape.RELATIVE_PATHS))
    if _ONE.search(text):
        found.append(Ask(Shape.ONE_LINE))
    if _NUMBER_LINES.search(text) and not wants_number:
        found.append(Ask(Shape.NUMBER_LINES))
    if _FILES.search(text) and not _NOT_FILES.search(text):
        found.append(Ask(Shape.FILE_PATHS))
    for shape, words in _TYPED:
        if words.search(text) and not wants_number:
            found.append(Ask(shape))
    terms = tuple((a or b).lower() for a, b in _QUOTED.findall(request))
    if terms and _ASK_LINES.search(text) and _LINES.search(text) and not _NOT_LINES.search(text):
        found.append(Ask(Shape.QUOTED, terms=terms))
    return tuple(found)


# ---- what the request wants done -------------------------------------------------------

_EDIT = re.compile(r"\b(change|replace|edit|modify|update|set|rename|delete|remove|append|add|insert|write|create|save|fix|move|"
                   r"copy|make|generate|touch|convert|in place|overwrite|strip|truncate|clean|reformat|uncomment|comment out)\b")
_COUNT_ONLY = re.compile(r"\bhow many\b|\b(only|just) (the )?(number|count|total)\b|\b(number|count) only\b")
#: "relative" anywhere (looser than _RELATIVE_PATHS), or "without the leading ./"
_RELATIVE_OR_NO_DOT_SLASH = re.compile(r"\brelative\b|without (the |a )?(leading )?\./")


def wants_edit(request: str) -> bool:
    """Whether the request asks for a change to files at all; a question does not, and a
    plan that writes while answering one has misread it."""
    return _EDIT.search(request.lower()) is not None


# ---- what the request names (over the request as typed) ---------------------------------

_NUMBER_IN_REQUEST = re.compile(r"(?<![\w.\-/])(\d+)(?![\w.]*\w)")  # not part of a name: notes2.txt, v1.2, /data/2024
_CURRENT_DIR = re.compile(r"\b(current|this|working) (directory|folder|dir)\b")


#: a token that names a workspace path: a/b, ./a, a/, name.ext, .env (no globs, URLs or options)
_PATH_TOKEN = re.compile(r"^(?:\./)?[\w\-]*[\w](?:[./][\w\-]+)*/?$|^\.[A-Za-z][\w.\-]*$")
_FILE_NAME = re.compile(r"(?:^|/)[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z][A-Za-z0-9]{0,7}$|^\.[A-Za-z][\w.\-]*$")
_NOT_PATHS = frozenset({"and/or", "yes/no", "true/false", "on/off", "read/write", "input/output", "i/o", "tcp/ip", "w/o", "n/a",
                        "either/or", "e.g", "i.e", "etc", "a.m", "p.m", "vs"})
#: where a bare word after it is a place: "in src", "under docs"
_PLACE = frozenset({"in", "under", "inside", "within", "from"})
_ARTICLES = frozenset({"the", "a", "an", "my", "our", "this", "that", "its", "their"})
_DIRECTORY = frozenset({"directory", "folder", "dir", "subdirectory", "subfolder", "tree"})
#: a bare word ends the phrase it names a place in: "in src", "in src and ...", "in src, ..."
_CLAUSE_END = frozenset({"and", "or", "but", "that", "which", "with", "for", "where", "whose", "then", "recursively"})
_TOKEN = re.compile(r"[^\s]+")
#: words that follow "in" without naming a place: "in place", "in order", "in json"
_NOT_PLACES = frozenset({"place", "order", "total", "parallel", "reverse", "detail", "full", "general", "particular", "short", "turn",
                         "bytes", "kilobytes", "megabytes", "lines", "words", "json", "yaml", "csv", "text", "python", "bash", "shell"})
#: the names projects give their directories: a bare one after a place word is surely a path
_DIRECTORY_NAMES = frozenset({
    "src", "source", "sources", "lib", "libs", "app", "apps", "test", "tests", "spec", "docs", "doc", "bin", "build", "dist", "out",
    "output", "config", "conf", "scripts", "data", "logs", "log", "tmp", "pkg", "cmd", "internal", "vendor", "assets", "static", "public",
    "include", "examples", "samples", "backup", "backups", "reports", "site", "web", "www", "server", "client", "api", "services",
    "modules", "packages", "components", "templates", "migrations", "fixtures", "media", "images", "uploads",
})
_SED_EXPRESSION = re.compile(r"^[sy]/[^/]*/[^/]*/[a-z0-9]*$")


def _named_paths(request: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The workspace paths a request names by relative name, and those of them it can only
    mean as paths. A word with a slash or a file name's extension is a path wherever it
    stands ("notes.txt"; sure after a place word: "in notes.txt", or with a slash: "logs/");
    a bare word is one after a place word at the end of its phrase ("in src"; sure when it
    is a name projects give directories, as src, docs or logs: "in python" may be a
    language) or before "directory" ("the src directory", sure)."""
    words = [(m.group(0), m.group(0).strip("`'\"()[]<>").rstrip(".,;:?!").strip("`'\"")) for m in _TOKEN.finditer(request)]
    named: list[str] = []
    sure: list[str] = []
    for i, (raw, word) in enumerate(words):
        path = word[2:] if word.startswith("./") else word
        path = path.rstrip("/") if path != "/" else path
        if (not path or path == "." or "://" in word or word.startswith(("/", "-", "~")) or word.lower() in _NOT_PATHS
                or not _PATH_TOKEN.match(word) or _SED_EXPRESSION.match(word)):
            continue
        before = words[i - 1][1].lower() if i else ""
        before2 = words[i - 2][1].lower() if i > 1 else ""
        after = words[i + 1][1].lower() if i + 1 < len(words) else ""
        ends = i + 1 == len(words) or raw.rstrip("`'\")").endswith((",", ";", ":", "?", "!", ".")) or after in _CLAUSE_END
        at_place = before in _PLACE or (before in _ARTICLES and before2 in _PLACE)
        if "/" in word or _FILE_NAME.search(word):
            if not re.search(r"[A-Za-z]", path) or re.fullmatch(r"[\d.]+[A-Za-z]{0,3}", path):
                continue  # 1.5, 2.0, v1.2-like numbers, not names
            named.append(path)
            if "/" in word or at_place:
                sure.append(path)
        elif after in _DIRECTORY or (before in _PLACE and ends and path.lower() not in _NOT_PLACES):
            named.append(path)
            if after in _DIRECTORY or path.lower() in _DIRECTORY_NAMES:
                sure.append(path)
    return tuple(dict.fromkeys(named)), tuple(dict.fromkeys(sure))


@lru_cache(maxsize=64)
def intent(request: str) -> Intent:
    """What the request asks for, read once (the compiler, the vote and the result check
    each ask again for the same request: a pure function of the text, so it is cached)."""
    text = request.lower()
    return Intent(
        request,
        asks=_asks(request),
        wants_edit=wants_edit(request),
        count_only=_COUNT_ONLY.search(text) is not None,
        no_dot_slash=_RELATIVE_OR_NO_DOT_SLASH.search(text) is not None,
        numbers=frozenset(n for n in _NUMBER_IN_REQUEST.findall(request) if len(n) <= 6),
        current_dir=_CURRENT_DIR.search(text) is not None,
        named=(paths := _named_paths(request))[0],
        sure=paths[1],
    )


#: words too common to say what a request is about
_STOP = {"the", "a", "an", "of", "in", "to", "and", "or", "is", "are", "what", "which", "how", "many", "print", "only",
         "show", "list", "me", "it", "its", "each", "all", "per", "one", "line", "file", "files", "that", "with", "for",
         "do", "does", "there", "just", "by", "from", "on", "as", "be", "not", "don't", "please"}


def content_words(text: str) -> set[str]:
    """The words a request (or a library example's) is matched on when the compiler picks
    its nearest worked examples: lower-cased, common words and single letters left out."""
    return {w for w in re.findall(r"[a-z0-9_]+", text.lower()) if w not in _STOP and len(w) > 1}
