"""Writes bench/memory/: tasks whose answer needs content from many files, at three sizes.

    python bench/make_memory_suite.py [OUT_DIR] [--sizes 10,100,1000]

Each request is asked of a workspace of N files (10, 100, 1,000), built by its setup
script deterministically, so the same task at a larger size differs only in how much
there is to read. The gold answer is a command run over an identical fresh workspace
(`output_of`). Requests and data are Babel's own, written for this suite: nothing was
taken from a public benchmark, and nothing in Babel was tuned on them. Tasks over code
are tagged `code`, so `babel eval --naive` shows the model the whole workspace for them,
as a naive "read the code" prompt would.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import yaml

# Each setup is a shell loop over i = 0..N-1 whose choices are arithmetic on i: the same
# files for the same N on every machine, in a few lines of YAML whatever N is.

def services(n: int) -> tuple[str, str]:
    """N service modules: 2 in 5 call the payment API with a timeout, 1 in 5 without one, the rest call another API."""
    setup = f"""mkdir -p services
for i in $(seq 0 {n - 1}); do
  case $(( (i * 7 + 3) % 5 )) in
    0|1) call='response = requests.post(PAYMENT_URL, json={{"total": total}}, timeout=5)' ;;
    2) call='response = requests.post(PAYMENT_URL, json={{"total": total}})' ;;
    *) call="response = requests.get(\\"https://catalog.internal/items/$i\\", timeout=3)" ;;
  esac
  f=$(printf 'services/svc_%04d.py' "$i")
  head='import requests\\n\\nPAYMENT_URL = "https://pay.internal/charge"\\n\\n\\n'
  body='def handle_%d(order):\\n    total = sum(item["price"] for item in order["items"])\\n    %s\\n    return response.json()\\n'
  printf "$head$body" "$i" "$call" > "$f"
done"""
    gold = "grep -l 'requests.post(PAYMENT_URL' services/*.py | xargs grep -L 'timeout=' | xargs -n1 basename | sort"
    return setup, gold


def logs(n: int) -> tuple[str, str]:
    """N log files of 3 to 8 lines each, INFO, WARN and ERROR lines of five components."""
    setup = f"""mkdir -p logs
set -- auth billing search mailer storage
for i in $(seq 0 {n - 1}); do
  f=$(printf 'logs/app-%04d.log' "$i")
  : > "$f"
  for j in $(seq 0 $(( 2 + (i * 5) % 6 ))); do
    case $(( (i * 3 + j * 7) % 4 )) in 0) level=ERROR ;; 1) level=WARN ;; *) level=INFO ;; esac
    c=$(( (i + j * 2) % 5 + 1 )); eval "component=\\${{$c}}"
    printf '2026-11-%02dT10:%02d:00 %s [%s] event %d-%d\\n' $(( 1 + i % 28 )) "$j" "$level" "$component" "$i" "$j" >> "$f"
  done
done"""
    gold = "cat logs/*.log | grep ' ERROR ' | sed 's/.*\\[\\(.*\\)\\].*/\\1/' | sort | uniq -c | sort -k1,1nr -k2 | awk '{print $2, $1}'"
    return setup, gold


def todos(n: int) -> tuple[str, str]:
    """N source files of 1 to 4 functions, about 1 in 3 with a TODO comment."""
    setup = f"""mkdir -p src
for i in $(seq 0 {n - 1}); do
  f=$(printf 'src/mod_%04d.py' "$i")
  : > "$f"
  for j in $(seq 0 $(( i % 4 ))); do
    if [ $(( (i * 11 + j * 5) % 3 )) -eq 0 ]; then note='  # TODO: handle None'; else note=''; fi
    printf 'def step_%d_%d(x):%s\\n    return x + 1\\n\\n' "$i" "$j" "$note" >> "$f"
  done
done"""
    return setup, "grep -r 'TODO' src | wc -l"


def configs(n: int) -> tuple[str, str]:
    """N service configs; 1 in 10, and the middle one, turn debug on."""
    setup = f"""mkdir -p conf
for i in $(seq 0 {n - 1}); do
  if [ $(( (i * 13) % 10 )) -eq 7 ] || [ "$i" -eq {n // 2} ]; then debug=true; else debug=false; fi
  printf '[service]\\nname = svc%d\\nport = %d\\ndebug = %s\\n' "$i" $(( 8000 + i )) "$debug" > "$(printf 'conf/service-%04d.ini' "$i")"
done"""
    return setup, "grep -l '^debug = true' conf/*.ini | xargs -n1 basename | sort"


REQUESTS = [
    ("payment-no-timeout", services, "which of the services in services/ call the payment API (PAYMENT_URL) without a timeout? "
                                     "print their file names, one per line, sorted", ("code",)),
    ("errors-by-component", logs, "count the ERROR lines in the logs under logs/ by component (the name in square brackets): "
                                  "print each component and its count, most errors first", ()),
    ("todo-count", todos, "how many TODO comments are there in the files under src/?", ("code",)),
    ("debug-on", configs, "which config files in conf/ set debug to true? print their names, sorted", ()),
]


class _Literal(yaml.SafeDumper):
    """Multi-line strings (the setup scripts) as YAML literal blocks, readable as shell."""


_Literal.add_representer(str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).parent / "memory"))
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        tasks = []
        for name, make, request, tags in REQUESTS:
            setup, gold = make(size)
            tasks.append({"id": f"{name}-{size}", "request": request, "setup": setup, "expect": {"output_of": gold},
                          "tags": ["memory", f"files-{size}", *tags]})
        path = out / f"files-{size:04d}.yaml"
        head = textwrap.dedent(f"""\
            # Generated by bench/make_memory_suite.py ({size} files a task); edit the generator, not this file.
            """)
        path.write_text(head + yaml.dump(tasks, Dumper=_Literal, sort_keys=False, width=200), encoding="utf-8")
        print(f"{path}: {len(tasks)} tasks")


if __name__ == "__main__":
    main()
