"""The compiler: a request in plain language becomes k candidate plans.

This is the one fuzzy stage, so it is built for error correction downstream: it asks
the model for k candidates (the first greedy, the rest sampled with distinct seeds),
each constrained to the plan schema so that every candidate is well-formed JSON, and
parses and verifies each one, so that a malformed or invalid candidate is a
diagnostic for the decoder, never a crash. The prompt is laid out as design.md says:
an immutable prefix (ISA reference, rules, few-shot examples) byte-identical across
calls so that the server's prefix cache is reused, then a small index of skills and
tools (names and one line each), then the workspace facts and the request.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from babel.compiler.examples import FIXED, LIBRARY, nearest
from babel.compiler.intent import intent
from babel.compiler.shape import checks_for
from babel.lang import Diagnostic, Plan, RepairRequest, Step, load_isa, model_schema, parse_plan, plan_from_json, to_text
from babel.model import ModelClient, ModelRequest, Sample
from babel.skills import NO_SKILLS, SkillMap, skill_index
from babel.verify import Policy, handler, verify

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WorkspaceFacts:
    """What the compiler is told about the workspace: where it is mounted and what is in it."""

    mount: str = "/workspace"
    files: tuple[str, ...] = ()
    more_files: int = 0  # how many files the listing left out
    heads: tuple[tuple[str, str], ...] = ()  # (path, first lines) of a few small data files

    def describe(self) -> str:
        lines = [f"Workspace: {self.mount} (the current directory of every command)."]
        if self.files:
            lines.append("Files:")
            lines += [f"  {name}" for name in self.files]
            if self.more_files:
                lines.append(f"  ... and {self.more_files} more")
        else:
            lines.append("Files: (none)")
        for path, head in self.heads:
            lines.append(f"First lines of {path}:")
            lines += [f"  | {line}" for line in head.splitlines()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Candidate:
    index: int
    origin: str  # "greedy" or "sample t=0.7 seed=N"
    text: str
    plan: Plan | None
    diagnostics: tuple[Diagnostic, ...]
    logprob: float | None = None
    tokens: int = 0

    @property
    def valid(self) -> bool:
        return self.plan is not None and not any(d.is_error for d in self.diagnostics)

    @property
    def greedy(self) -> bool:
        return self.origin.endswith("greedy")


@dataclass(frozen=True)
class Compilation:
    request: str
    candidates: tuple[Candidate, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    latency_s: float = 0.0
    messages: tuple[dict[str, str], ...] = field(default=(), compare=False)
    facts: WorkspaceFacts | None = field(default=None, compare=False)


# ---- the prompt -----------------------------------------------------------------

RULES = """\
You are Babel's compiler. You translate a user's request into a plan: a short JSON
program of steps that a sandbox runs over the user's workspace. Reply with the plan
only, as JSON: {"steps": [{"op": ..., "args": {...}, "out": "name"}, ...]}.

Opcodes:
{opcodes}

Rules:
- The result of the plan is the output of its last step: make the last step print
  exactly what the user asked for, nothing more (no labels, no file names unless asked).
- Most requests are one exec step: a POSIX shell command line (sh -c) run in the
  workspace. Use only these programs: {tools}.
- Use the file names listed under Files. Paths are relative to the workspace, or
  absolute under its mount point if the request names them so: a request that names
  /testbed/logs gets `find /testbed/logs ...`; one that says "the current directory"
  gets `find . ...`. Print paths as the command gives them.
- "how many" means print only the number: use `wc -l < file`, `grep -c`, or `| wc -l`.
- Sort when the user asks for sorted output; one item per line when listing.
- To change a file, edit it in place (sed -i) or use write with path=.
- A step can read an earlier step's output: {"slot": "name"} where that step has "out": "name".
- There is no network."""


def _opcode_lines() -> str:
    lines = []
    for op in load_isa().compiled():
        operands = ", ".join(f"{o.name}{'' if o.required else '?'}: {o.type}" for o in op.operands.values())
        lines.append(f"- {op.name}({operands}): {op.summary}")
    return "\n".join(lines)


@lru_cache(maxsize=8)
def system_prompt(tools: tuple[str, ...], index: str) -> str:
    text = RULES.replace("{opcodes}", _opcode_lines()).replace("{tools}", ", ".join(sorted(tools)))
    if index:
        text += ("\n\nSkills: ready-made plans. When one fits the request, call it as one step: "
                 '{"op": "call", "args": {"skill": NAME, INPUT: VALUE, ...}}\n' + index)
    return text


def _example_turns(files: tuple[str, ...], request: str, plan: dict[str, Any], mount: str = "/workspace") -> list[dict[str, str]]:
    """One worked example as a user turn and the assistant's plan. A retrieved example is
    shown at the request's own mount point (its /workspace paths rewritten), so that a
    request naming /testbed/x sees an example that names /testbed/y; the fixed ones stay
    at /workspace, which keeps the prefix byte-identical."""
    listing = "\n".join(f"  {name}" for name in files)
    user = f"Workspace: /workspace (the current directory of every command).\nFiles:\n{listing}\n\nRequest: {request}"
    answer = json.dumps(plan, ensure_ascii=False)
    if mount != "/workspace":
        user, answer = user.replace("/workspace", mount), answer.replace("/workspace", mount)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


#: The prompt's leading messages that are the same on every call (the system prompt and
#: the fixed examples, two messages each): the part an engine may cache across processes.
STABLE_MESSAGES = 1 + 2 * len(FIXED)


def build_messages(request: str, facts: WorkspaceFacts, policy: Policy, index: str = "",
                   note: str | None = None, before: str | None = None) -> list[dict[str, str]]:
    """The prompt: the immutable prefix (system prompt with the skill index, fixed
    examples), then the library examples nearest to this request, then this request with
    its workspace facts, and a `note` after it (what a repair has to fix) or text `before`
    the request line (what an earlier attempt did), so that the request stays last, as in
    every worked example."""
    messages = [{"role": "system", "content": system_prompt(tuple(policy.exec), index)}]
    for position in FIXED:
        messages += _example_turns(*LIBRARY[position])
    for example in nearest(request):
        messages += _example_turns(*example, mount=facts.mount)
    messages.append({"role": "user", "content": f"{facts.describe()}\n\n" + (f"{before}\n\n" if before else "")
                     + f"Request: {request}" + (f"\n\n{note}" if note else "")})
    return messages


# ---- candidates -----------------------------------------------------------------

#: Output-format peephole rules for shell commands: each rewrites an idiom whose output
#: carries something nobody asked for into the equivalent that prints only the answer.
_PEEPHOLES = (
    # `find DIR -maxdepth 1 -type d` lists DIR itself too; nobody asking for directories wants "."
    (re.compile(r"\bfind\s+(\S+)\s+-maxdepth\s+1\s+(?!.*-mindepth)"), r"find \1 -mindepth 1 -maxdepth 1 "),
    # `LC_ALL=C sort`: the verifier refuses every VAR= prefix, and the sandbox already runs
    # each command with LC_ALL=C.UTF-8, which orders and matches bytes as C does
    (re.compile(r"(^|[|;&(]\s*)(?:LC_ALL|LANG|LC_COLLATE|LC_CTYPE)=C(?:\.UTF-8)?\s+(?=[a-z])"), r"\1"),
)
#: `wc -l FILE` prints "3 FILE"; `wc -l < FILE` prints "3": applied only when the request
#: asks for the count alone (`Intent.count_only`).
_WC_COUNT_ONLY = (re.compile(r"(^|\|\s*|;\s*|&&\s*)wc\s+(-[lwcm])\s+([^\s|;&<>'\"]+)\s*$"), r"\1wc \2 < \3")


_STRIP_DOT = "sed 's|^\\./||'"
_WALKS_DOT = re.compile(r"^\s*(find \.(\s|$)|grep\s+(-\w*[rR]\w*\s+).*\s\.\s*$)")


def _pipeline(cmd: str) -> list[str]:
    """The segments of a command line split at top-level `|` (not inside quotes, not `||`)."""
    parts, current, quote, i = [], "", None, 0
    while i < len(cmd):
        char = cmd[i]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "|" and cmd[i + 1 : i + 2] != "|" and cmd[i - 1 : i] != "|":
            parts.append(current)
            current = ""
            i += 1
            continue
        current += char
        i += 1
    return parts + [current]


def _strip_dot_slash(cmd: str) -> str:
    """`find .` and `grep -r ... .` print paths as ./a/b; people (and answers) say a/b."""
    segments = _pipeline(cmd)
    first = segments[0]
    if ";" in cmd or "&&" in cmd or "-printf" in first or "%P" in cmd or "./" in "".join(segments[1:]):
        return cmd
    if _WALKS_DOT.match(first) and "-exec" not in first:
        return " | ".join([first.strip(), _STRIP_DOT, *(segment.strip() for segment in segments[1:])])
    return cmd


_REGEX_TOOLS = re.compile(r"^\s*(grep|egrep|sed|awk)\b")
_PCRE_FLAG = re.compile(r"\s-\w*P|--perl-regexp")
_DIGIT_IN_CLASS = re.compile(r"(?<!\\)\[([^\]]*?)\\d")
_FIND_NAME_WITH_DIR = re.compile(r"""-i?name\s+(['"]?)([^'"\s*][^'"\s]*/[^'"\s]*)\1""")


def _posix_classes(cmd: str) -> str:
    """`\\d` is Perl's digit class: grep -E, sed and awk read it as a plain `d`; POSIX says [0-9]."""
    segments = _pipeline(cmd)
    fixed = []
    for segment in segments:
        if "\\d" in segment and _REGEX_TOOLS.match(segment) and not _PCRE_FLAG.search(segment):
            while _DIGIT_IN_CLASS.search(segment):
                segment = _DIGIT_IN_CLASS.sub(r"[\g<1>0-9", segment, count=1)
            segment = segment.replace("\\d", "[0-9]")
        fixed.append(segment)
    return "|".join(fixed) if fixed != segments else cmd


def _find_paths(cmd: str) -> str:
    """`find S -name 'dir/x'` never matches (-name sees base names): it meant `-path 'S/dir/x'`."""
    segments = _pipeline(cmd)
    first = segments[0]
    start = re.match(r"^\s*find\s+([^\s-][^\s]*)", first)
    if start is None:
        return cmd
    root = start.group(1).rstrip("/") or "/"

    def to_path(match: re.Match[str]) -> str:
        quote, pattern = match.group(1) or "'", match.group(2)
        if not pattern.startswith((root + "/", "./", "/")):
            pattern = f"{root}/{pattern}" if root != "/" else f"/{pattern}"
        return f"-path {quote}{pattern}{quote}"

    fixed = _FIND_NAME_WITH_DIR.sub(to_path, first)
    return "|".join([fixed, *segments[1:]]) if fixed != first else cmd


_EXEC_UNTERMINATED = re.compile(r"(-exec(?:dir)?\s+(?:(?!\\;|;|\+(?:\s|$)).)*?\{\})(\s*)(?=$|\||\)|&&|>)")


def _terminate_exec(cmd: str) -> str:
    """`find -exec CMD {}` without its `\\;` or `+` is an error ("missing argument to
    -exec"): end it with `\\;`, which is what it meant."""
    segments = _pipeline(cmd)
    first = segments[0]
    if not re.match(r"^\s*find\b", first) or ";" in first or re.search(r"\{\}\s*\+", first):
        return cmd
    fixed = _EXEC_UNTERMINATED.sub(lambda m: m.group(1) + " \\;" + m.group(2), first.rstrip()) + (" " if len(segments) > 1 else "")
    return "|".join([fixed, *segments[1:]]) if fixed.strip() != first.strip() else cmd


def polish(plan: Plan, request: str = "") -> Plan:
    """The plan with the peephole rules applied to its exec command lines. The `./` that
    `find .` prints is stripped only when the request asks for relative paths: otherwise
    the tool's own output is the answer (it is what a reference command prints too)."""
    asked = intent(request)
    # "count the lines in f.txt" may well want wc's own "3 f.txt"; an unknown request keeps the rule
    peepholes = _PEEPHOLES if request and not asked.count_only else (_WC_COUNT_ONLY, *_PEEPHOLES)
    steps = []
    for step in plan.steps:
        cmd = step.args.get("cmd")
        if _runs_command(step) and isinstance(cmd, str):
            cmd = _terminate_exec(_posix_classes(_find_paths(cmd.strip())))
            if asked.no_dot_slash:
                cmd = _strip_dot_slash(cmd)
            for pattern, replacement in peepholes:
                cmd = pattern.sub(replacement, cmd.strip())
            if cmd != step.args["cmd"]:
                step = replace(step, args={**step.args, "cmd": cmd})
        steps.append(step)
    return replace(plan, steps=tuple(steps))



def parse_candidate(index: int, origin: str, text: str, policy: Policy, logprob: float | None = None, tokens: int = 0,
                    request: str = "", skills: SkillMap = NO_SKILLS) -> Candidate:
    """A model output as a candidate: parsed and verified; never raises."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        # a text-form plan is accepted too; anything else is reported, not raised
        parsed = parse_plan(text)
        if parsed.plan is None:
            where = f"{error.msg} at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)[:200]
            diag = Diagnostic("E_MODEL_OUTPUT", f"the model's output is not a plan: {where}")
            return Candidate(index, origin, text, None, (diag,), logprob, tokens)
    else:
        parsed = plan_from_json(data)
    if parsed.plan is None:
        return Candidate(index, origin, text, None, tuple(parsed.diagnostics), logprob, tokens)
    plan = polish(parsed.plan, request)
    return Candidate(index, origin, text, plan, tuple(verify(plan, policy, skills=skills)), logprob, tokens)


def hinted(messages: list[dict[str, str]], request: str) -> list[dict[str, str]]:
    """The prompt variant: the same prompt with the shape of the answer spelled out after
    the request (the decoder's answer-shape checks, babel.compiler.shape, used as guidance). It
    differs from the prompt only at its end, so an engine decodes it for a few tokens."""
    checks = checks_for(request)
    hint = (f"The output must be: {'; '.join(check.name for check in checks)}." if checks
            else "The output must be only what the request asks for, nothing more.")
    return [*messages[:-1], {**messages[-1], "content": f"{messages[-1]['content']}\n{hint}"}]


def layout(k: int, temperature: float, variant: bool) -> list[tuple[int, float]]:
    """(prompt variant, temperature) of each of k candidates: the first greedy on the
    prompt; with a variant and k >= 3, the third greedy on the variant, and the other
    samples alternating between the two."""
    if not variant or k < 3:
        return [(0, 0.0)] + [(0, temperature)] * (k - 1)
    rest = [(0, temperature), (1, temperature)] * k
    return [(0, 0.0), (0, temperature), (1, 0.0), *rest[: k - 3]]


def _sample(model: ModelClient, messages: list[dict[str, str]], policy: Policy, k: int, temperature: float, max_tokens: int,
            seed: int, say: Progress, first_index: int, variant: list[dict[str, str]] | None = None,
            request: str = "", skills: SkillMap = NO_SKILLS, label: str = "retry") -> tuple[list[Candidate], int, int, int]:
    """k candidates for one prompt (and its variant): (candidates, prompt tokens, completion tokens, model calls)."""
    schema = model_schema(tuple(sorted(skills)))
    prompt_tokens = completion_tokens = calls = 0
    plan = layout(k, temperature, variant is not None)
    temperatures = [t for _, t in plan]
    chats = [messages] + ([variant] if variant is not None else [])
    say(f"compiling: {k} candidate{'s' if k > 1 else ''} ({sum(t == 0 for t in temperatures)} greedy, "
        f"{sum(t > 0 for t in temperatures)} sampled at temperature {temperature:g}"
        + (", two prompt variants)" if len(chats) > 1 and k >= 3 else ")"))
    # one request of k samples: an engine decodes them together, sharing what they agree on
    asked = ModelRequest(tuple(chats if k >= 3 else chats[:1]), tuple(Sample(t, seed + i, v) for i, (v, t) in enumerate(plan)),
                         schema=schema, max_tokens=max_tokens)
    completions = list(model.submit([asked])[0].completions)
    calls += 1
    prompt_tokens += completions[0].prompt_tokens if completions else 0
    candidates = []
    for offset, (completion, (v, t)) in enumerate(zip(completions, plan, strict=False)):
        origin = ("greedy" if t == 0 else f"sample t={t:g} #{offset}") if v == 0 else f"variant t={t:g} #{offset}"
        if first_index:
            origin = f"{label} {origin}"
        completion_tokens += completion.completion_tokens
        candidates.append(parse_candidate(first_index + offset, origin, completion.text, policy, completion.logprob,
                                          completion.completion_tokens, request, skills))
    return candidates, prompt_tokens, completion_tokens, calls


def retry_with_diagnostics(compilation: Compilation, model: ModelClient, *, k: int = 3, policy: Policy | None = None,
                           facts: WorkspaceFacts | None = None, temperature: float | None = None, max_tokens: int | None = None,
                           progress: Progress | None = None, skills: SkillMap = NO_SKILLS) -> Compilation:
    """When no candidate is valid: show the model its likeliest plan and what the verifier
    said about it, and ask for k corrected candidates (the syndrome fed back once).
    `temperature` and `max_tokens` default to the model's configured `sampling`."""
    invalid = [c for c in compilation.candidates if c.plan is not None] or list(compilation.candidates)
    worst = min(invalid, key=lambda c: sum(d.is_error for d in c.diagnostics))
    problems = "\n".join(f"- {d.code}: {d.message}" for d in worst.diagnostics if d.is_error)[:1500]
    request = (f"{compilation.request}\n\nA previous plan for this request was:\n{worst.text.strip()[:1500]}\n"
               f"The verifier rejected it:\n{problems}\nWrite a corrected plan.")
    (progress or (lambda message: None))("no candidate passed the verifier: asking again with what it said")
    return _ask_again(compilation, request, model, k, policy, facts, temperature, max_tokens, progress, skills, 100, "retry")


def _ask_again(compilation: Compilation, request: str, model: ModelClient, k: int, policy: Policy | None,
               facts: WorkspaceFacts | None, temperature: float | None, max_tokens: int | None, progress: Progress | None,
               skills: SkillMap, seed: int, label: str) -> Compilation:
    """k more candidates for `compilation`'s request, compiled from the prompt built around
    `request` (the request with what went wrong), appended to the old ones."""
    temperature = model.sampling.temperature if temperature is None else temperature
    max_tokens = model.sampling.max_tokens if max_tokens is None else max_tokens
    policy = policy or Policy()
    facts = facts or WorkspaceFacts(mount=policy.workspace)
    say = progress or (lambda message: None)
    messages = build_messages(request, facts, policy, skill_index(skills))
    started = time.perf_counter()
    more, prompt_tokens, completion_tokens, calls = _sample(model, messages, policy, k, temperature, max_tokens, seed, say,
                                                             len(compilation.candidates), request=compilation.request, skills=skills,
                                                             label=label)
    return Compilation(compilation.request, compilation.candidates + tuple(more), compilation.prompt_tokens + prompt_tokens,
                       compilation.completion_tokens + completion_tokens, compilation.model_calls + calls,
                       round(compilation.latency_s + time.perf_counter() - started, 3), compilation.messages, compilation.facts)


REFINE_ROUNDS = 0  # refine rounds by default (babel do and babel eval: --refine N); off: on bench/holdout it gained nothing (bench/RESULTS.md)
REFINE_SHOWN = 3  # the most earlier outputs a refine round shows the model
REFINE_LINES = 8  # of each, the first lines shown


def refine_with_outputs(compilation: Compilation, tried: list[tuple[str, str, float]], model: ModelClient, *, k: int = 3,
                        policy: Policy | None = None, facts: WorkspaceFacts | None = None, temperature: float | None = None,
                        max_tokens: int | None = None, progress: Progress | None = None, skills: SkillMap = NO_SKILLS,
                        round_no: int = 1) -> Compilation:
    """When the output checker rejects the winner: show the model the plans tried, what
    each printed (its first lines, a bounded page) and the checker's verdict, and ask for k
    new candidates, appended to the old (the decoder votes over all of them). `tried` is
    (command, output, P(good)), best first. This is the observe-and-refine step of the
    interactive baselines, with the checker standing in for the user who reads the output."""
    shown = []
    for command, output, probability in tried[:REFINE_SHOWN]:
        lines = output.rstrip("\n").split("\n") if output.strip() else []
        head = "\n".join(line[:200] for line in lines[:REFINE_LINES]) or "(no output)"
        more = f"\n[... {len(lines)} lines in all]" if len(lines) > REFINE_LINES else ""
        shown.append(f"Command:\n{command.strip()[:600]}\nIt printed:\n{head}{more}\n"
                     f"A checker judged this output {'probably wrong' if probability < 0.5 else 'doubtful'} "
                     f"for the request (P(right) = {probability:.2f}).")
    request = (f"{compilation.request}\n\nEarlier plans for this request ran, but their output does not look like the answer:\n\n"
               + "\n\n".join(shown)
               + "\n\nRead the request again, word by word (its conditions, counts, order and format), "
                 "and write a plan that answers it exactly.")
    (progress or (lambda message: None))(
        f"the output checker rejected the chosen plan's output: compiling again with what the plans printed (round {round_no})")
    return _ask_again(compilation, request, model, k, policy, facts, temperature, max_tokens, progress, skills, 200 * round_no,
                      f"refine{round_no}")


def compile_request(
    request: str,
    model: ModelClient,
    *,
    k: int = 3,
    policy: Policy | None = None,
    facts: WorkspaceFacts | None = None,
    index: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    variants: bool = False,
    skills: SkillMap = NO_SKILLS,
) -> Compilation:
    """Ask the model for k candidates: the first greedy, the others sampled at
    `temperature`, and, with `variants` and k >= 3, some of them (one greedy) on a prompt
    variant that spells out the answer's shape (`layout`). Variants are off by default:
    measured on the public suite they did not help and cost 1.3x (bench/RESULTS.md).
    `temperature` and `max_tokens` default to the model's configured `sampling`."""
    temperature = model.sampling.temperature if temperature is None else temperature
    max_tokens = model.sampling.max_tokens if max_tokens is None else max_tokens
    policy = policy or Policy()
    facts = facts or WorkspaceFacts(mount=policy.workspace)
    say = progress or (lambda message: None)
    messages = build_messages(request, facts, policy, skill_index(skills) if index is None else index)
    started = time.perf_counter()
    candidates, prompt_tokens, completion_tokens, calls = _sample(model, messages, policy, k, temperature, max_tokens, seed, say, 0,
                                                                  hinted(messages, request) if variants else None, request, skills)
    return Compilation(request, tuple(candidates), prompt_tokens, completion_tokens, calls,
                       round(time.perf_counter() - started, 3), tuple(messages), facts)


# ---- repairs: the control loop asks, the compiler proposes -----------------------------


@dataclass
class ModelRepairs:
    """Replacements for a failed step from the model, shaped like a compile request (the
    request last, as in every worked example, so the examples the request retrieves
    apply): the control loop's proposer. Raises what the model raises."""

    model: ModelClient
    policy: Policy
    request: str = ""
    facts: WorkspaceFacts | None = None
    skills: SkillMap = field(default_factory=lambda: NO_SKILLS)  # the skills its prompt's index names (as given to compile_request)
    alternatives: int = 4  # replacements asked of a model that generates many at once (greedy first)

    def __call__(self, ask: RepairRequest) -> list[list[Step]]:
        plan, index = ask.plan, ask.index
        step = plan.steps[index]
        step_text = to_text(Plan((step,))).strip()
        attempted = (step.args.get("cmd") if _runs_command(step) and isinstance(step.args.get("cmd"), str) else step_text)
        if ask.problem:
            attempt = (f"A first attempt at this request, `{attempted}`, ran but does not answer it ({ask.problem}). "
                       f"It printed: {ask.output[:300]!r}")
        else:
            attempt = f"A first attempt at this request, `{attempted}`, failed: {ask.failure}: {ask.message}"
        if ask.stderr:
            attempt += f"\nIts error output: {ask.stderr[-400:]}"
        checks = checks_for(self.request)
        if checks:
            attempt += f"\nThe answer must be: {'; '.join(check.name for check in checks)}."
        attempt += "\nWrite a different plan." + (" It must only read files, never change them." if ask.read_only else "")
        lines = []
        if index:
            done = "\n".join(to_text(Plan((s,))).strip() for s in plan.steps[:index])
            lines.append(f"These steps already ran; their slots can be read:\n{done}")
            if ask.reads:
                lines.append("Slots the failed step reads:\n" + "\n".join(ask.reads))
            lines.append("Write a plan of one step (or a few) that replaces only the failed step.")
        facts = self.facts or WorkspaceFacts(mount=self.policy.workspace)
        messages = build_messages(self.request or "repair the failed step", facts, self.policy, skill_index(self.skills),
                                  before=attempt, note="\n\n".join(lines) or None)
        # a model that decodes several together gives alternatives for about the price of one
        sampling = self.model.sampling
        temperatures = [0.0] + [sampling.temperature] * (self.alternatives - 1 if self.model.capabilities.generate_many else 0)
        asked = ModelRequest((messages,), tuple(Sample(t, ask.seed + i) for i, t in enumerate(temperatures)), schema=model_schema(),
                             max_tokens=sampling.max_tokens)
        completions = self.model.submit([asked])[0].completions
        proposals: list[list[Step]] = []
        for completion in completions:
            try:
                parsed = plan_from_json(json.loads(completion.text))
            except (json.JSONDecodeError, AttributeError, RecursionError, ValueError):
                continue
            if parsed.plan is not None and parsed.plan.steps:
                # the compiler's output-format peepholes apply to repairs too
                steps = list(polish(parsed.plan, self.request).steps[:3])
                if all(_signature(steps) != _signature(p) for p in proposals):
                    proposals.append(steps)
        return proposals


def _signature(steps: list[Step]) -> str:
    """A proposal's text without step ids, to tell proposals apart."""
    return " ; ".join(to_text(Plan((replace(s, id="x"),))).strip() for s in steps)


def _runs_command(step: Step) -> bool:
    """Whether the step runs a command line (exec): its `cmd` is what peepholes and repairs rewrite."""
    semantics = handler(step.op)
    return semantics is not None and semantics.command(step) is not None
