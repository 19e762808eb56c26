"""The compiler's library of worked examples: request → plan.

A small model copies the example nearest to the request far more reliably than it
follows a rule, so the compiler shows a few fixed examples in its immutable prefix and,
just before the request, the three examples of this library that share the most words
with it. Each example is (files in the workspace, request, plan); plans are in the
JSON form the model emits. They teach conventions as much as commands: print only what
was asked, no file names in counts, sorted lists, in-place edits.
"""

from __future__ import annotations

import math
from typing import Any

from babel.compiler.intent import content_words

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
    (("src/app.py", "src/db.py", "docs/index.md"), "list the paths of all markdown files relative to the workspace, sorted",
     ex("find . -type f -name '*.md' | sed 's|^\\./||' | sort")),
    (("src/app.py", "src/db.py", "tests/test_app.py"), "which files mention TODO? list them sorted",
     ex("grep -rl 'TODO' . | sort")),
    (("src/app.py", "src/util.py"), "show every TODO comment with its file and line number",
     ex("grep -rn 'TODO' .")),
    (("app/main.py", "app/db.py"), "which python files import requests? print the paths sorted",
     ex("grep -rlE '^(import requests|from requests)' --include='*.py' . | sort")),
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
     ex("grep -rnE 'verify\\s*=\\s*False|CERT_NONE|check_hostname\\s*=\\s*False' .")),
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
    # find: by name, type, size, time, permissions; absolute paths stay absolute
    (("docs/a.txt", "docs/sub/b.txt", "docs/c.md"), "find all .txt files under /workspace/docs",
     ex("find /workspace/docs -type f -name '*.txt'")),
    (("src/a.c", "src/b.h", "README"), "find all files in the current directory tree whose names end with .c or .h",
     ex("find . -type f \\( -name '*.c' -o -name '*.h' \\)")),
    (("logs/old.log", "logs/new.log"), "find files in /workspace/logs modified in the last 7 days",
     ex("find /workspace/logs -type f -mtime -7")),
    (("data/a.bin", "data/b.txt"), "find files bigger than 100 kilobytes in the data directory",
     ex("find data -type f -size +100k")),
    (("a.txt", "empty.txt", "dir/"), "find all empty files and directories under /workspace",
     ex("find /workspace -empty")),
    (("run.sh", "lib/util.sh", "notes.txt"), "find all executable files in the current directory tree",
     ex("find . -type f -perm -u+x")),
    (("a.txt", "b.txt", "secret.key"), "find files with permission 600 in /workspace",
     ex("find /workspace -type f -perm 600")),
    (("src/", "src/main.py", "build/"), "list all directories under /workspace/src, including nested ones",
     ex("find /workspace/src -type d")),
    (("link", "target.txt"), "find all symbolic links in the current directory tree", ex("find . -type l")),
    (("a/report.txt", "b/report.txt"), "find every file named report.txt and print its full path",
     ex("find \"$PWD\" -type f -name report.txt")),
    (("src/a.py", "src/b.py"), "print the names of the python files without their extension",
     ex("find . -type f -name '*.py' -exec basename {} .py \\;")),
    (("data/a.csv", "data/b.csv"), "count the files in /workspace/data and its subdirectories",
     ex("find /workspace/data -type f | wc -l")),
    (("logs/a.log", "logs/b.log"), "count the number of lines in each .log file in logs",
     ex("wc -l logs/*.log")),
    (("src/a.c", "src/b.c"), "count the total number of lines in all .c files under /workspace/src",
     ex("find /workspace/src -type f -name '*.c' -exec cat {} + | wc -l")),
    (("src/a.py", "src/b.py", "lib/c.py"), "search for the string 'import os' in all python files and print the names of the files that contain it",
     ex("find . -type f -name '*.py' -exec grep -l 'import os' {} +")),
    (("docs/", "docs/a.md"), "search recursively for the word error, ignoring case, in /workspace/docs and show the matching lines with line numbers",
     ex("grep -rni 'error' /workspace/docs")),
    (("app.log",), "print the lines of app.log that do not contain INFO", ex("grep -v 'INFO' app.log")),
    (("words.txt",), "count the lines in words.txt that contain the whole word cat",
     ex("grep -cw 'cat' words.txt")),
    (("a.log", "b.log"), "count the lines containing ERROR in each .log file", ex("grep -c 'ERROR' *.log")),
    # checksums and sizes
    (("a.txt", "b.txt"), "calculate the md5 checksum of every .txt file in /workspace",
     ex("md5sum /workspace/*.txt")),
    (("src/a", "src/b"), "compute the sha256 sum of each file under src", ex("find src -type f -exec sha256sum {} +")),
    (("data/", "data/x.bin"), "what is the total size in bytes of the data directory?",
     ex("du -sb data | cut -f1")),
    (("a.txt", "b.bin"), "print the size in bytes of each file in the current directory tree",
     ex("find . -type f -printf '%s %p\\n'")),
    (("a.txt", "b.txt", "c.bin"), "show the 2 largest files under /workspace with their sizes in bytes",
     ex("find /workspace -type f -printf '%s %p\\n' | sort -rn | head -n 2")),
    (("notes.txt",), "how many characters does notes.txt have?", ex("wc -c < notes.txt")),
    # printing parts of files
    (("book.txt",), "print lines 10 to 20 of book.txt", ex("sed -n '10,20p' book.txt")),
    (("book.txt",), "print the 7th line of book.txt", ex("sed -n '7p' book.txt")),
    (("list.txt",), "print list.txt with line numbers", ex("cat -n list.txt")),
    (("list.txt",), "print the lines of list.txt in reverse order", ex("tac list.txt")),
    (("code.py",), "print the lines of code.py longer than 80 characters", ex("awk 'length > 80' code.py")),
    (("names.txt",), "remove the duplicate lines of names.txt, keeping the first of each, and print the result",
     ex("awk '!seen[$0]++' names.txt")),
    (("data.txt",), "print the second field of each line of data.txt (fields separated by spaces)",
     ex("awk '{print $2}' data.txt")),
    (("users.txt",), "print the usernames (first field, colon-separated) from users.txt",
     ex("cut -d: -f1 users.txt")),
    (("scores.txt",), "sort scores.txt numerically by its second column, highest first",
     ex("sort -k2,2nr scores.txt")),
    (("ids.txt",), "join the lines of ids.txt into one line separated by commas", ex("paste -sd, ids.txt")),
    (("text.txt",), "count how many times each word occurs in text.txt, most frequent first",
     ex("tr -s '[:space:]' '\\n' < text.txt | grep . | sort | uniq -c | sort -rn")),
    (("greeting.txt",), "print greeting.txt with hello replaced by goodbye, without changing the file",
     ex("sed 's/hello/goodbye/g' greeting.txt")),
    (("a.txt", "b.txt"), "print the lines in a.txt that are not in b.txt", ex("grep -vxFf b.txt a.txt")),
    (("old.txt", "new.txt"), "show the differences between old.txt and new.txt", ex("diff old.txt new.txt")),
    # changing files
    (("tmp/a.tmp", "tmp/b.tmp", "keep.txt"), "delete all .tmp files in the current directory tree",
     ex("find . -type f -name '*.tmp' -delete")),
    (("scripts/a.sh", "scripts/b.sh"), "make all shell scripts in scripts executable",
     ex("chmod +x scripts/*.sh")),
    (("draft.txt",), "rename draft.txt to final.txt", ex("mv draft.txt final.txt")),
    (("config.ini",), "make a backup copy of config.ini named config.ini.bak", ex("cp config.ini config.ini.bak")),
    (("src/", "src/a.py"), "create a gzip-compressed tar archive of the src directory named src.tar.gz",
     ex("tar -czf src.tar.gz src")),
    (("backup.tar.gz",), "list the files inside backup.tar.gz", ex("tar -tzf backup.tar.gz")),
    (("report.txt",), "create the directory archive/2024 and copy report.txt into it",
     ex("mkdir -p archive/2024 && cp report.txt archive/2024/")),
    (("main.py",), "add the line '# end' at the end of main.py", ex("echo '# end' >> main.py")),
    (("main.py",), "insert the line '#!/usr/bin/env python3' at the top of main.py",
     ex("sed -i '1i #!/usr/bin/env python3' main.py")),
)

#: Shown in every prompt (the immutable prefix): one of each broad kind.
FIXED = (0, 13, 16, 36, 38)

def _document_frequency() -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, request, _ in LIBRARY:
        for word in content_words(request):
            counts[word] = counts.get(word, 0) + 1
    return counts


_DF = _document_frequency()


def _similarity(wanted: set[str], words: set[str]) -> float:
    """Shared words, each weighted by how rare it is in the library (idf), over the
    example's length: "executable" says more about a request than "directory"."""
    shared: float = sum(math.log(1 + len(LIBRARY) / _DF.get(word, 1)) for word in sorted(wanted & words))
    return shared / math.sqrt(len(words))


def ranked(request: str) -> list[Example]:
    """The library examples (fixed ones excluded) that share a word with the request, most like it first."""
    wanted = content_words(request)
    scored = []
    for index, example in enumerate(LIBRARY):
        if index in FIXED:
            continue
        words = content_words(example[1])
        if not words:
            continue
        score = _similarity(wanted, words)
        if score > 0:
            scored.append((score, -index, example))
    scored.sort(reverse=True)
    return [example for _, _, example in scored]


def nearest(request: str, count: int = 3, skip: int = 0) -> list[Example]:
    """The `count` library examples most like the request (after the `skip` nearest), least
    similar first: the closest goes last, right before the request, where it weighs most."""
    return list(reversed(ranked(request)[skip: skip + count]))
