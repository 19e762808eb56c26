"""How page sizes (babel.vm.pages.count_tokens, a byte count over 3) compare with the model's own tokenizer.

    python bench/bench_tokens.py [--model NAME]

Counts every text file of a few kinds in this repository (Python source, Markdown,
YAML suites, shell-ish examples) both ways and prints, per kind, the ratio of
count_tokens to the tokenizer's count: its minimum (a ratio under 1 would mean a budget
in page tokens could pass the model's real context), median and maximum, and the same
over all files. Loads the model only for its tokenizer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = {"python": ("babel/**/*.py", "tests/*.py", "bench/*.py"), "markdown": ("docs/*.md", "README.md"),
         "yaml": ("bench/suite/*.yaml", "bench/holdout/**/*.yaml", "skills/**/*.yaml"),
         "examples": ("examples/**/*.py", "examples/**/*.js", "examples/**/*.txt", "examples/**/*.log")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from babel.app import open_model
    from babel.model import ModelPool
    from babel.vm import count_tokens

    _, client = open_model(args.model, pool=ModelPool())
    engine = client.engine
    print(f"model {client.name}")
    print("| kind | files | bytes | tokenizer tokens | page tokens | ratio min | median | max |")
    print("|---|---|---|---|---|---|---|---|")
    everything: list[float] = []
    for kind, patterns in KINDS.items():
        files = sorted({p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()})
        ratios, size, real, paged = [], 0, 0, 0
        for path in files:
            text = path.read_text(encoding="utf-8", errors="replace")
            if not text.strip():
                continue
            tokens = len(engine.tokenize(text))
            ratios.append(count_tokens(text) / tokens)
            size, real, paged = size + len(text.encode()), real + tokens, paged + count_tokens(text)
        everything += ratios
        if ratios:
            print(f"| {kind} | {len(ratios)} | {size} | {real} | {paged} | {min(ratios):.2f} | {statistics.median(ratios):.2f} | {max(ratios):.2f} |")
    print(f"| all | {len(everything)} | | | | {min(everything):.2f} | {statistics.median(everything):.2f} | {max(everything):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
