"""How many tokens each judgement of the model-judged auth review sees
(docs/examples/review-auth.plan), against the whole file or the whole service it would take
to judge them the naive way.

    python bench/bench_auth_context.py [--split dev|heldout|all] [--model NAME]

For every service under bench/authbugs/<split>/, the units the plan would judge (its
`units` step's match and exclude, split by babel.lang.units exactly as the op does) are built into the
very prompt `filter` sends for one vote, and counted with the model's own tokenizer; so
are the unit's whole file and the whole service (every source file), each with the same
question. Printed: per service, the units judged and the median tokens of a judgement, of
its file and of the service; then the medians over all services. Nothing is asked of the
model; only its tokenizer is loaded.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.lang import as_text, language, parse_plan, split_units  # noqa: E402

PLAN = ROOT / "docs" / "examples" / "review-auth.plan"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="all", choices=["dev", "heldout", "all"])
    parser.add_argument("--model", default=None, help="the embedded model whose tokenizer counts (default: the configured one)")
    args = parser.parse_args()

    from babel.app import open_model
    from babel.model import ModelPool
    from babel.verify.ops.model import SYSTEM, _item_text

    _, client = open_model(args.model, pool=ModelPool())
    engine = client.engine
    plan = parse_plan(PLAN.read_text()).plan
    assert plan is not None, f"{PLAN} does not parse"
    units, judge = plan.steps[0].args, plan.steps[1].args
    match = re.compile(as_text(units["match"]), re.IGNORECASE)
    exclude = re.compile(as_text(units["exclude"])) if "exclude" in units else None
    question = as_text(judge["prompt"][0] if isinstance(judge["prompt"], list) else judge["prompt"]) + " Answer Yes or No."

    def tokens(body: str) -> int:
        chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{body}\n\n{question}"}]
        return len(engine.tokenize(engine.format_chat(chat)))

    splits = ["dev", "heldout"] if args.split == "all" else [args.split]
    rows = []
    print(f"{'service':34} {'units':>5} {'judgement':>9} {'file':>6} {'service':>7}")
    for split in splits:
        for service in sorted(p for p in (ROOT / "bench" / "authbugs" / split).iterdir() if p.is_dir()):
            sources = {str(f.relative_to(service)): f.read_text(errors="replace") for f in sorted(service.rglob("*"))
                       if f.is_file() and language(str(f.relative_to(service)))
                       and not (exclude and exclude.search(str(f.relative_to(service))))}
            whole = tokens("\n\n".join(f"{path}:\n```\n{text}\n```" for path, text in sources.items()))
            file_tokens = {path: tokens(f"{path}:\n```\n{text}\n```") for path, text in sources.items()}
            judged = [(unit, tokens(_item_text(unit.record()))) for path, text in sources.items() for unit in split_units(path, text)
                      if any(match.search(line) for line in unit.text.splitlines())]
            if not judged:
                continue
            row = (service.name, len(judged), statistics.median(t for _, t in judged),
                   statistics.median(file_tokens[u.path] for u, _ in judged), whole)
            rows.append(row)
            print(f"{row[0]:34} {row[1]:5} {row[2]:9.0f} {row[3]:6.0f} {row[4]:7}")
    if rows:
        print(f"{'median over services':34} {statistics.median(r[1] for r in rows):5.0f} {statistics.median(r[2] for r in rows):9.0f} "
              f"{statistics.median(r[3] for r in rows):6.0f} {statistics.median(r[4] for r in rows):7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
