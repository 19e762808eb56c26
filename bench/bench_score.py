"""What keeping the scoring sequence's cells between calls saves: `eval`, `select` and
`filter` score each option teacher-forced, and a checklist asks one excerpt many questions.

    python bench/bench_score.py [--model NAME] [--questions N]

Side by side in one run, on one code excerpt (examples/auth-service/app/routes.py): a
yes/no question scored as its two replies, then N questions over the same excerpt, each
scored as Yes and No; first with the cells kept (the engine as it is), then with them
dropped before every score (`forget_prompt`, what the engine did before: every option of
every question prefilled the whole chat). Prints wall seconds for each and that the
scores agree.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Is there an authentication or authorisation bug in this code?",
    "Does it compare a secret with == instead of a constant-time compare?",
    "Does it use an id from the request without checking that the current user owns it?",
    "Does it do an admin action without checking the user's role?",
    "Does it trust a role or user id sent by the client?",
    "Does it accept a token or session without checking its signature, expiry or revocation?",
    "Does it let in a fixed user or password, bypassing the normal check?",
    "Does it make a secret token from a predictable source such as random, Math.random or the time?",
    "Does it store or compare passwords in plain text or with a fast unsalted hash like md5 or sha1?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    args = parser.parse_args()

    from babel.app import open_model
    from babel.model import ModelPool
    from babel.verify.ops.model import SYSTEM

    _, client = open_model(args.model, pool=ModelPool())
    engine = client.engine
    code = (ROOT / "examples" / "auth-service" / "app" / "routes.py").read_text()
    chats = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"app/routes.py:\n```\n{code}```\n\n{q} Answer Yes or No."}]
             for q in QUESTIONS[: args.questions]]
    print(f"model {client.name}, threads {getattr(engine, 'threads', '?')}, excerpt {len(engine.tokenize(engine.format_chat(chats[0])))} tokens "
          f"with its question, {len(chats)} questions")
    engine.score([chats[0]], ["Yes"])  # warm the weights in memory: neither side pays the first touch
    results = {}
    for name, forget in (("cells kept (now)", False), ("cells dropped (before)", True)):
        engine.forget_prompt()
        started = time.perf_counter()
        scores = []
        for chat in chats:
            for option in ("Yes", "No"):
                if forget:
                    engine.forget_prompt()
                scores.append(engine.score([chat], [option])[0])
        results[name] = (time.perf_counter() - started, scores)
        print(f"{name:24} {results[name][0]:7.2f} s for {len(scores)} scores")
    (kept, a), (dropped, b) = results.values()
    spread = max(abs(x - y) for x, y in zip(a, b, strict=True))
    print(f"speed-up {dropped / kept:.1f}x; largest difference between the two sides' log-probabilities {spread:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
