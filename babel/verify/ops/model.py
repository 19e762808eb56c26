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

from babel.lang import Diagnostic, SlotRef, Step, as_lines, as_text
from babel.verify.ops.base import Answer, Chat, Choice, Handler, Machine, Outcome, SkillTable, StepFailure, diag
from babel.verify.policy import Policy

SYSTEM = ("You are one step of a checked plan. Read the messages and answer exactly what the last one asks, "
          "with nothing before or after it.")
MAX_TOKENS = 2048
MAX_OPTIONS = 16


def chat(step: Step, args: dict[str, Any], prompt: str) -> Chat:
    """The step's context as messages: a literal list gives one message per item, any
    other value one message; then the prompt. Consecutive user messages are merged."""
    given = step.args.get("context")
    value = args.get("context")
    items = [as_text(v) for v in value] if isinstance(given, list) and isinstance(value, list) else ([] if value is None else [as_text(value)])
    messages: Chat = [{"role": "system", "content": SYSTEM}]
    for content in [*[item.rstrip("\n") for item in items if item.strip()], prompt]:
        if messages[-1]["role"] == "user":
            messages[-1] = {"role": "user", "content": messages[-1]["content"] + "\n\n" + content}
        else:
            messages.append({"role": "user", "content": content})
    return messages


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
        return []

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        budget = args.get("max_tokens", 256)
        answer = machine.ask(chat(step, args, as_text(args["prompt"])), int(budget))
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

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        prompt = as_text(args["prompt"]).rstrip() + " Answer Yes or No."
        choice = machine.choose(chat(step, args, prompt), self.REPLIES)
        answer, confidence = _best(self.REPLIES, choice)
        return Outcome(answer.lower(), {**cost(choice), "confidence": round(confidence, 4)})


class Select(Handler):
    op = "select"
    asks_model = True
    confident = True

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        options = step.args.get("options")
        if isinstance(options, SlotRef):
            return []
        listed = as_lines(options) if isinstance(options, (str, list)) else []
        if not 2 <= len(listed) <= MAX_OPTIONS:
            return [diag(step, "E_ARG_INVALID", f"options= needs 2 to {MAX_OPTIONS} options, not {len(listed)}")]
        if len(set(listed)) != len(listed):
            return [diag(step, "E_ARG_INVALID", "options= lists an option twice")]
        return []

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        options = [line for line in as_lines(args["options"]) if line.strip()]
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise StepFailure("invalid_output", f"options= holds {len(options)} options; select needs 2 to {MAX_OPTIONS}")
        prompt = as_text(args["prompt"]).rstrip() + "\nAnswer with one of: " + "; ".join(options) + "."
        choice = machine.choose(chat(step, args, prompt), options)
        answer, confidence = _best(options, choice)
        probabilities = {option: round(p, 4) for option, p in zip(options, choice.probabilities, strict=True)}
        return Outcome(answer, {**cost(choice), "confidence": round(confidence, 4), "probabilities": probabilities})


HANDLERS: dict[str, Handler] = {h.op: h for h in (Infer(), Eval(), Select())}
