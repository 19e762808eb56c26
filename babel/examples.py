"""The compiler's library of worked examples: request → plan.

A small model copies the example nearest to the request far more reliably than it
follows a rule, so the compiler shows a few fixed examples in its immutable prefix and,
just before the request, the three examples of this library that share the most words
with it. Each example is (files in the workspace, request, plan); plans are in the
JSON form the model emits. They teach conventions as much as commands: print only what
was asked, no file names in counts, sorted lists, in-place edits.
"""

from __future__ import annotations

import re
from typing import Any

Example = tuple[tuple[str, ...], str, dict[str, Any]]


def ex(cmd: str) -> dict[str, Any]:
    return {"steps": [{"op": "exec", "args": {"cmd": cmd}}]}


LIBRARY: tuple[Example, ...] = (
    (("data/users.csv", "README.md"), "how many users are in data/users.csv? don't count the header line",
     ex("tail -n +2 data/users.csv | wc -l")),
    (("orders.csv",), "how many data rows does orders.csv have, excluding the header? print only the number",
     ex("tail -n +2 orders.csv | grep -c .")),
    (("notes.txt",), "how many lines are in notes.txt?", ex("wc -l < notes.txt")),
    (("src/a.py", "src/b.py", "src/c.js"), "how many python files are there? print just the number",
     ex("find . -type f -name '*.py' | wc -l")),
    (("logs/app.log",), "count the ERROR lines in logs/app.log", ex("grep -c 'ERROR' logs/app.log")),
    (("server.log",), "how many times does the word timeout appear in server.log (case-insensitive)?",
     ex("grep -oi 'timeout' server.log | wc -l")),
    (("sales.csv",), "what is the total of the amount column in sales.csv? print just the number",
     ex("awk -F, 'NR>1 {s+=$2} END {print s}' sales.csv")),
    (("scores.csv",), "what is the average score in scores.csv (column 3)? print it with two decimals",
     ex("awk -F, 'NR>1 {s+=$3; n++} END {printf \"%.2f\\n\", s/n}' scores.csv")),
    (("prices.csv",), "what is the highest price in prices.csv (second column)?",
     ex("tail -n +2 prices.csv | cut -d, -f2 | sort -n | tail -n 1")),
    (("people.csv",), "how many distinct cities are in the city column (column 4) of people.csv?",
     ex("tail -n +2 people.csv | cut -d, -f4 | sort -u | wc -l")),
    (("employees.csv",), "list the names (first column) of employees.csv, one per line, sorted",
     ex("tail -n +2 employees.csv | cut -d, -f1 | sort")),
    (("a/x.log", "b/y.log", "b/z.txt"), "list the names of the .log files, one per line, sorted",
     ex("find . -name '*.log' -printf '%f\\n' | sort")),
    (("src/app.py", "src/db.py", "docs/index.md"), "list the paths of all markdown files, sorted",
     ex("find . -type f -name '*.md' | sed 's|^\\./||' | sort")),
    (("src/app.py", "src/db.py", "tests/test_app.py"), "which files mention TODO? list them sorted",
     ex("grep -rl 'TODO' . | sed 's|^\\./||' | sort")),
    (("src/app.py", "src/util.py"), "show every TODO comment with its file and line number",
     ex("grep -rn 'TODO' . | sed 's|^\\./||'")),
    (("app/main.py", "app/db.py"), "which python files import requests? print the paths sorted",
     ex("grep -rlE '^(import requests|from requests)' --include='*.py' . | sed 's|^\\./||' | sort")),
    (("config/settings.ini", "main.py"), "change the port from 8080 to 9090 in config/settings.ini",
     ex("sed -i 's/8080/9090/g' config/settings.ini")),
    (("config.yaml",), "replace every occurrence of localhost with db.internal in config.yaml",
     ex("sed -i 's/localhost/db.internal/g' config.yaml")),
    (("todo.txt",), "append the line 'buy milk' to todo.txt", ex("echo 'buy milk' >> todo.txt")),
    (("notes.txt",), "delete the blank lines from notes.txt", ex("sed -i '/^[[:space:]]*$/d' notes.txt")),
    (("app.log",), "remove every line containing DEBUG from app.log", ex("sed -i '/DEBUG/d' app.log")),
    (("names.txt",), "sort names.txt alphabetically and remove duplicates, in place",
     ex("sort -u names.txt -o names.txt")),
    (("words.txt",), "print the lines of words.txt in upper case", ex("tr '[:lower:]' '[:upper:]' < words.txt")),
    (("report.txt",), "create a file summary.txt containing the number of lines in report.txt",
     ex("wc -l < report.txt > summary.txt")),
    (("access.log",), "list the unique IP addresses in access.log, sorted",
     ex("grep -oE '([0-9]{1,3}\\.){3}[0-9]{1,3}' access.log | sort -u")),
    (("contacts.txt",), "extract all email addresses from contacts.txt, one per line, sorted and unique",
     ex("grep -oE '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}' contacts.txt | sort -u")),
    (("access.log",), "which IP address appears most often in access.log? print only the address",
     ex("awk '{print $1}' access.log | sort | uniq -c | sort -rn | head -n 1 | awk '{print $2}'")),
    (("text.txt",), "what are the 3 most frequent words in text.txt? one per line",
     ex("tr -cs '[:alpha:]' '\\n' < text.txt | tr '[:upper:]' '[:lower:]' | grep . | sort | uniq -c | sort -rn | head -n 3 | awk '{print $2}'")),
    (("package.json", "index.js"), "what version is in package.json?", ex("jq -r .version package.json")),
    (("config.json",), "what is the value of database.host in config.json?", ex("jq -r .database.host config.json")),
    (("settings.ini",), "what is the timeout value in settings.ini? print only the value",
     ex("grep -E '^timeout *=' settings.ini | head -n 1 | cut -d= -f2 | tr -d ' '")),
    (("src/a.py", "src/b.py"), "list the names of the functions defined in src/a.py, one per line",
     ex("grep -oE '^\\s*def [A-Za-z_][A-Za-z0-9_]*' src/a.py | awk '{print $2}'")),
    (("src/main.py", "src/lib.py", "README.md"), "how many lines of python code are there in total?",
     ex("find . -name '*.py' -exec cat {} + | wc -l")),
    (("a.txt", "big.bin", "c.txt"), "which file is the largest? print only its name",
     ex("find . -type f -printf '%s %P\\n' | sort -rn | head -n 1 | cut -d' ' -f2-")),
    (("poem.txt",), "show the first 5 lines of poem.txt", ex("head -n 5 poem.txt")),
    (("events.log",), "show the last 3 lines of events.log", ex("tail -n 3 events.log")),
    (("src/auth.py", "src/views.py"), "find hard-coded passwords in src",
     {"steps": [{"op": "grep", "args": {"pattern": "(password|passwd|secret|api_key)\\s*=\\s*['\\\"]", "paths": ["src"], "ignore_case": True}}]}),
    (("app/client.py", "app/server.py"), "find places where TLS certificate verification is disabled",
     ex("grep -rnE 'verify\\s*=\\s*False|CERT_NONE|check_hostname\\s*=\\s*False' . | sed 's|^\\./||'")),
    (("notes.txt",), "read notes.txt and show the lines that mention a deadline",
     {"steps": [{"op": "read", "args": {"path": "notes.txt"}, "out": "notes"},
                {"op": "grep", "args": {"pattern": "deadline", "in": {"slot": "notes"}, "ignore_case": True}}]}),
    (("list1.txt", "list2.txt"), "which lines are in both list1.txt and list2.txt? sorted",
     ex("grep -Fxf list1.txt list2.txt | sort -u")),
    (("data.txt",), "print the lines of data.txt that appear more than once", ex("sort data.txt | uniq -d")),
    (("essay.txt",), "how many words are in essay.txt?", ex("wc -w < essay.txt")),
    (("inventory.csv",), "print the rows of inventory.csv whose quantity (column 3) is 0, without the header",
     ex("awk -F, 'NR>1 && $3 == 0' inventory.csv")),
    (("app/auth.py", "app/db.py", "app/routes.py"), "find auth bug",
     {"steps": [{"op": "call", "args": {"skill": "find-auth-bug"}}]}),
    (("src/app.py", "lib/util.py"), "are there any secrets or API keys committed in the code?",
     {"steps": [{"op": "call", "args": {"skill": "find-secrets"}}]}),
    (("src/", "src/app.py"), "does any file contain the string FIXME? answer yes or no",
     ex("if grep -rq 'FIXME' .; then echo yes; else echo no; fi")),
)

#: Shown in every prompt (the immutable prefix): one of each broad kind.
FIXED = (0, 13, 16, 36, 38)

_STOP = {"the", "a", "an", "of", "in", "to", "and", "or", "is", "are", "what", "which", "how", "many", "print", "only",
         "show", "list", "me", "it", "its", "each", "all", "per", "one", "line", "file", "files", "that", "with", "for",
         "do", "does", "there", "just", "by", "from", "on", "as", "be", "not", "don't", "please"}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9_]+", text.lower()) if w not in _STOP and len(w) > 1}


def nearest(request: str, count: int = 3) -> list[Example]:
    """The library examples most like the request (by shared words), least similar first."""
    wanted = _words(request)
    scored = []
    for index, example in enumerate(LIBRARY):
        if index in FIXED:
            continue
        words = _words(example[1])
        if not words:
            continue
        overlap = len(wanted & words) / (len(words) ** 0.5)
        if overlap > 0:
            scored.append((overlap, -index, example))
    scored.sort(reverse=True)
    # the closest example goes last, right before the request, where it weighs most
    return [example for _, _, example in reversed(scored[:count])]
