"""The model family: the model as an ALU over an explicit context (the LPU's INF, EVAL).

`infer` asks for a text, `eval` for yes or no, `select` for one of given options. Each
reads only what the plan hands it: its `prompt`, and its `context` (a value, or a list
of values, each one message: a file's text read by an earlier step, a grep's matches, a
literal), never the plan's history. `eval` and `select` are choices by probability: the
model scores each option as its reply (teacher-forced), so the answer is the likeliest
option and its probability is the step's confidence, not a guess from a sampled word.
The machine (babel.vm) asks the model and keeps a memo, so a rerun replays. `sim` is
reserved.
"""

from __future__ import annotations

from typing import Any

from babel.lang import Diagnostic, SlotRef, Step, as_lines, as_text, is_page
from babel.verify.ops.base import Answer, Chat, Choice, Handler, Machine, Outcome, SkillTable, StepFailure, diag, int_range, literal_int, run_int
from babel.verify.policy import Policy

SYSTEM = ("You are one step of a checked plan. Read the messages and answer exactly what the last one asks, "
          "with nothing before or after it.")
MAX_TOKENS = 2048
MAX_OPTIONS = 16
MIN_BUDGET, MAX_BUDGET = 64, 1_000_000


def chat(step: Step, args: dict[str, Any], prompt: str, machine: Machine) -> Chat:
    """The step's context as messages: a literal list gives one message per item, any
    other value one message; then the prompt. Consecutive user messages are merged. Each
    item is a page of the process's working set (a value is paged as the step's), and
    the whole must fit the step's budget= and the working set's (context_over_budget)."""
    given = step.args.get("context")
    value = args.get("context")
    items = list(value) if isinstance(given, list) and isinstance(value, list) else ([] if value is None else [value])
    texts = machine.memory.context(step.id, items, SYSTEM + "\n" + prompt, budget(args))
    messages: Chat = [{"role": "system", "content": SYSTEM}]
    for content in [*[item.rstrip("\n") for item in texts if item.strip()], prompt]:
        if messages[-1]["role"] == "user":
            messages[-1] = {"role": "user", "content": messages[-1]["content"] + "\n\n" + content}
        else:
            messages.append({"role": "user", "content": content})
    return messages


def budget(args: dict[str, Any]) -> int | None:
    """The step's own cap on a model call's context tokens (budget=), if it sets one."""
    return run_int(args, "budget", 0, MIN_BUDGET, MAX_BUDGET) if "budget" in args else None


def check_budget(step: Step) -> list[Diagnostic]:
    return int_range(step, "budget", MIN_BUDGET, MAX_BUDGET)


def cost(answer: Answer | Choice) -> dict[str, Any]:
    out: dict[str, Any] = {"context_tokens": answer.context_tokens, "latency_ms": answer.latency_ms, "memo": "hit" if answer.memo else "miss"}
    if isinstance(answer, Answer):
        out["tokens_out"] = answer.tokens_out
    return out


class Infer(Handler):
    op = "infer"
    asks_model = True

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        budget = step.args.get("max_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool) and not 1 <= budget <= MAX_TOKENS:
            return [diag(step, "E_BUDGET_TOKENS", f"max_tokens={budget} is outside 1 to {MAX_TOKENS}")]
        return check_budget(step)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        limit = args.get("max_tokens", 256)
        answer = machine.ask(chat(step, args, as_text(args["prompt"]), machine), int(limit))
        return Outcome(answer.text.strip(), cost(answer))


def _best(options: list[str], choice: Choice) -> tuple[str, float]:
    best = max(range(len(options)), key=lambda i: choice.probabilities[i])
    return options[best], choice.probabilities[best]


class Eval(Handler):
    op = "eval"
    asks_model = True
    confident = True
    answers = ("yes", "no")
    REPLIES = ["Yes", "No"]  # scored as the model would write them; the value is "yes" or "no"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        return check_budget(step)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        prompt = as_text(args["prompt"]).rstrip() + " Answer Yes or No."
        choice = machine.choose(chat(step, args, prompt, machine), self.REPLIES)
        answer, confidence = _best(self.REPLIES, choice)
        return Outcome(answer.lower(), {**cost(choice), "confidence": round(confidence, 4)})


class Select(Handler):
    op = "select"
    asks_model = True
    confident = True

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        options = step.args.get("options")
        if isinstance(options, SlotRef):
            return check_budget(step)
        listed = as_lines(options) if isinstance(options, (str, list)) else []
        if not 2 <= len(listed) <= MAX_OPTIONS:
            return [diag(step, "E_ARG_INVALID", f"options= needs 2 to {MAX_OPTIONS} options, not {len(listed)}")]
        if len(set(listed)) != len(listed):
            return [diag(step, "E_ARG_INVALID", "options= lists an option twice")]
        return check_budget(step)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        options = [line for line in as_lines(args["options"]) if line.strip()]
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise StepFailure("invalid_output", f"options= holds {len(options)} options; select needs 2 to {MAX_OPTIONS}")
        prompt = as_text(args["prompt"]).rstrip() + "\nAnswer with one of: " + "; ".join(options) + "."
        choice = machine.choose(chat(step, args, prompt, machine), options)
        answer, confidence = _best(options, choice)
        probabilities = {option: round(p, 4) for option, p in zip(options, choice.probabilities, strict=True)}
        return Outcome(answer, {**cost(choice), "confidence": round(confidence, 4), "probabilities": probabilities})


def _item_text(item: Any) -> str:
    """What the model reads of one item: a record's code (else its text) headed by where it is."""
    if not isinstance(item, dict):
        return as_text(item)
    body = as_text(item.get("code", item.get("text", "")))
    where = f"{item.get('path')}, lines {item.get('line')}-{item['end']}" if item.get("end") else f"{item.get('path')}:{item.get('line')}"
    return f"{where}:\n```\n{body.rstrip()}\n```"


class Filter(Handler):
    """Each item judged alone: its own small context (the step's context, the item), the
    questions asked one after another over it, so the engine prefills the item once and
    each further question costs only its own tokens. Every item is scored first, then
    kept or not: with `calibrate`, a question's probability counts as its lift over the
    median of that question across the items, so the model's bias towards yes (a 1.5B
    model says yes to most questions about most code) cancels out."""

    op = "filter"
    asks_model = True
    MODES = ("mean", "any")

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        out = literal_int(step, "votes", 1, MAX_OPTIONS) + int_range(step, "min_confidence", 1, 99) + int_range(step, "limit", 1, 2000)
        out += check_budget(step)
        prompt, reasons, mode = step.args.get("prompt"), step.args.get("reasons"), step.args.get("mode", "mean")
        questions = [line for line in as_lines(prompt) if line.strip()] if isinstance(prompt, (str, list)) else None
        labels = [r for r in as_lines(reasons) if r.strip()] if isinstance(reasons, (str, list)) else None
        if questions is not None and not questions:
            out.append(diag(step, "E_ARG_INVALID", "prompt= needs at least one question"))
        elif isinstance(prompt, list) and any(isinstance(q, str) and not q.strip() for q in prompt):
            out.append(diag(step, "E_ARG_INVALID", "prompt= lists an empty phrasing; each item is one question"))
        if len(questions or []) > MAX_OPTIONS:
            out.append(diag(step, "E_ARG_INVALID", f"prompt= holds {len(questions or [])} questions; at most {MAX_OPTIONS}"))
        if isinstance(mode, str) and mode not in self.MODES:
            out.append(diag(step, "E_ARG_INVALID", f"mode={mode!r} is not one of: mean (the questions vote), any (a checklist)"))
        if labels is not None and mode == "any" and questions is not None and len(labels) != len(questions):
            out.append(diag(step, "E_ARG_INVALID", f"mode=\"any\" takes one reason per question: {len(questions)} questions, {len(labels)} reasons"))
        elif labels is not None and mode != "any" and not 2 <= len(labels) <= MAX_OPTIONS:
            out.append(diag(step, "E_ARG_INVALID", f"reasons= needs 2 to {MAX_OPTIONS} labels"))
        return out

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        items = args["items"] if isinstance(args["items"], list) else as_lines(args["items"])
        questions = [line.strip() for line in as_lines(args["prompt"]) if line.strip()]
        questions = questions[:run_int(args, "votes", len(questions), 1, MAX_OPTIONS)] if "votes" in args else questions
        if not questions:
            raise StepFailure("invalid_output", "prompt= holds no question")
        mode = as_text(args.get("mode", "mean")).strip()
        if mode not in self.MODES:
            raise StepFailure("invalid_output", f"mode={mode!r} is not one of: {', '.join(self.MODES)}")
        calibrate = args.get("calibrate") is True or as_text(args.get("calibrate")).strip() == "true"
        threshold = run_int(args, "min_confidence", 50, 1, 99) / 100
        limit = run_int(args, "limit", 200, 1, 2000)
        if len(items) > limit:
            raise StepFailure("output_too_large", f"{len(items)} items to judge, more than limit={limit}")
        reasons = [line.strip() for line in as_lines(args["reasons"]) if line.strip()] if "reasons" in args else []
        if mode == "any" and reasons and len(reasons) < len(questions):
            raise StepFailure("invalid_output", f"mode=any takes one reason per question: {len(questions)} questions, {len(reasons)} reasons")
        before = _context_text(step, args, machine)
        spent = {"context_tokens": 0, "latency_ms": 0.0, "calls": 0, "memo_hits": 0}
        cap = budget(args)

        def ask(number: int, body: str, question: str, options: list[str]) -> Choice:
            paged = machine.memory.context(f"{step.id}.item{number}", [body], SYSTEM + "\n" + question, cap)[0]
            messages: Chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{paged}\n\n{question}"}]
            choice = machine.choose(messages, options)
            spent["context_tokens"] += choice.context_tokens
            spent["latency_ms"] += choice.latency_ms
            spent["calls"] += 1
            spent["memo_hits"] += int(choice.memo)
            return choice

        bodies = [(before + "\n\n" if before else "") + _item_text(item) for item in items]
        scores: list[list[float]] = []
        for number, (item, body) in enumerate(zip(items, bodies, strict=True), 1):
            name = f"{item.get('path')}:{item.get('line')}" if isinstance(item, dict) else as_text(item)[:60]
            machine.say(f"judging {number} of {len(items)}: {name}")
            scores.append([ask(number, body, q.rstrip() + " Answer Yes or No.", Eval.REPLIES).probabilities[0] for q in questions])
        medians = [_median([row[i] for row in scores]) for i in range(len(questions))] if calibrate else [0.0] * len(questions)
        kept: list[Any] = []
        judged: list[dict[str, Any]] = []
        for number, (item, body, row) in enumerate(zip(items, bodies, scores, strict=True), 1):
            lifts = [p - m for p, m in zip(row, medians, strict=True)]
            best = max(range(len(lifts)), key=lambda i: lifts[i])
            score = lifts[best] if mode == "any" else sum(lifts) / len(lifts)
            where = {k: item.get(k) for k in ("path", "line", "name") if k in item} if isinstance(item, dict) else {"text": as_text(item)[:80]}
            judged.append({**where, "score": round(score, 4), "votes": [round(v, 4) for v in row]})
            if score < threshold:
                continue
            record: dict[str, Any] = dict(item) if isinstance(item, dict) else {"text": as_text(item)}
            record["confidence"] = round(sum(row) / len(row) if mode == "mean" else row[best], 4)
            if reasons:
                why = reasons[best] if mode == "any" else _best(reasons, ask(number, body, "Which of these best says what is wrong in this code? "
                                                                              + "; ".join(reasons) + ".", reasons))[0]
                record["why"] = why
                record["text"] = f"[{why}] {record.get('text', '')}"
            kept.append(record if isinstance(item, dict) else record["text"])
        detail = {"judged": len(items), "kept": len(kept), "votes": len(questions), "mode": mode, "calibrated": calibrate,
                  "medians": [round(m, 4) for m in medians] if calibrate else None, "context_tokens": spent["context_tokens"],
                  "latency_ms": round(spent["latency_ms"], 3), "model_calls": spent["calls"], "memo_hits": spent["memo_hits"],
                  "items": judged[:100]}
        return Outcome(kept, detail)


def _context_text(step: Step, args: dict[str, Any], machine: Machine) -> str:
    """What a filter reads before each item, as one text (pages faulted in; the items' own calls count it again)."""
    if "context" not in args:
        return ""
    value = args["context"]
    items = list(value) if isinstance(step.args.get("context"), list) and isinstance(value, list) else [value]
    if not any(is_page(item) for item in items):
        return as_text(value).strip()
    return "\n".join(text.rstrip("\n") for text in machine.memory.context(f"{step.id}.context", items, "", None, call=False)).strip()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


HANDLERS: dict[str, Handler] = {h.op: h for h in (Infer(), Eval(), Select(), Filter())}
