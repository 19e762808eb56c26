"""What every opcode's handler is, and what it may ask of the machine that runs it.

A handler holds one opcode's semantics beyond what isa/opcodes.json says as data: the
checks the verifier makes of it, the facts it states about a step (effects, the
permission it needs, the programs it starts, the paths it writes), and how it is
performed. Performing is pure here: a handler turns a step with resolved operands into
executor requests through the `Machine` it is given and turns the answers into a value;
the vm (babel.vm) owns the machine, the sandbox and the slots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from babel.lang import Diagnostic, Opcode, Plan, SlotRef, Step, as_text
from babel.verify.policy import Policy, resolve


@dataclass(frozen=True)
class StepFacts:
    """What the verifier learned about a step, for the runtime, the renderer and `babel do`'s prompt."""

    effects: bool
    permission: str | None
    programs: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


class SkillSignature(Protocol):
    """What the verifier needs of a skill that a plan calls (babel.skills.Skill is one)."""

    @property
    def inputs(self) -> dict[str, Any]: ...
    @property
    def permissions(self) -> dict[str, Any]: ...
    @property
    def plan(self) -> Plan: ...
    def needs(self, run: Policy) -> list[str]:
        """What the skill needs that the run's policy does not grant."""
        ...


#: The skills a plan may call, by name: a value the caller makes (from babel.skills) and passes in.
SkillTable = Mapping[str, SkillSignature]
NO_SKILLS: SkillTable = MappingProxyType({})

#: The facts of another step (a skill's steps, for `call`).
FactsOf = Callable[[Step], StepFacts]


class StepFailure(Exception):
    """Raised while a step is performed when it cannot go on; becomes its failed status."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """What performing a step gave: its value, and a failure kind when it failed."""

    value: Any
    detail: dict[str, Any] = field(default_factory=dict)  # exit code, stderr tail, a skill's step statuses, ...
    failure: str | None = None
    message: str | None = None
    jump_to: str | None = None  # continue at this step id instead of the next one
    bound: int | None = None  # the edge to `jump_to` may be taken at most this many times (the machine counts)
    halt: bool = False  # the process ends here; a value that is not None is its result


@dataclass(frozen=True)
class Flow:
    """Where control may go after a step, as the verifier's control-flow graph sees it."""

    targets: tuple[str, ...] = ()  # step ids it may continue at
    falls_through: bool = True  # it may continue at the next step
    bounded: bool = False  # its edges to `targets` carry a bound (times=)
    ends: bool = False  # the plan ends here (halt)


@dataclass(frozen=True)
class Source:
    """A step whose write of a slot may reach a read of it: the step, the type it writes,
    and its handler (None for a plan's input)."""

    step: Step | None
    type: str
    handler: Handler | None


#: chat messages: {"role": "system" | "user" | "assistant", "content": text}
Chat = list[dict[str, str]]


@dataclass(frozen=True)
class Answer:
    """The model's text for a chat, and what it cost."""

    text: str
    context_tokens: int
    tokens_out: int
    latency_ms: float
    memo: bool  # replayed from the memo, not recomputed


@dataclass(frozen=True)
class Choice:
    """The model's probability of each option, given a chat (they sum to 1)."""

    probabilities: tuple[float, ...]
    context_tokens: int
    latency_ms: float
    memo: bool


class ContextMemory(Protocol):
    """What a handler may ask of its process's context pages (babel.vm.pages keeps them).
    A page is given and taken as its reference, {page, source, tokens}; each raises
    StepFailure (context_over_budget when a page or a context does not fit)."""

    def load_file(self, path: str, region: tuple[int, int] | None, pin: bool) -> dict[str, Any]:
        """The page of a workspace file (read through the sandbox), or of its lines region."""
        ...
    def load(self, ref: Any, pin: bool) -> dict[str, Any]:
        """A page brought back into the working set."""
        ...
    def store(self, name: str, text: str, pin: bool) -> dict[str, Any]:
        """A page holding `text`, named `name` (the same name and text on a later run reuses it)."""
        ...
    def fill(self, ref: Any, text: str) -> dict[str, Any]:
        """An allocated page, its text now `text`."""
        ...
    def alloc(self, name: str, tokens: int) -> dict[str, Any]:
        """An empty page that holds `tokens` of the working set until it is freed."""
        ...
    def free(self, ref: Any) -> dict[str, Any]:
        """The page, released from the working set."""
        ...
    def context(self, name: str, items: list[Any], extra: str, budget: int | None, call: bool = True) -> list[str]:
        """The texts one model call reads: each item a page (faulted in if it is not resident)
        or a value (paged as `name`.N); with `extra` (its instructions and question) the
        whole must fit `budget` and the working set's. Without `call`, the texts are part of
        later calls' contexts (each counts them), not sent now."""
        ...


class Machine(Protocol):
    """What a handler may ask of the machine that performs its step (babel.vm provides it)."""

    @property
    def policy(self) -> Policy: ...
    @property
    def env(self) -> Mapping[str, Any]:
        """A skill's inputs, given to its commands as environment variables."""
        ...
    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """One executor request (sandbox/executor.py), its response."""
        ...
    def call_skill(self, name: str, inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Run the skill `name` with `inputs` as one step: its value and detail (raises StepFailure)."""
        ...
    def ask(self, chat: Chat, max_tokens: int) -> Answer:
        """The model's greedy answer to `chat`, at most `max_tokens` (raises StepFailure "model_error")."""
        ...
    def choose(self, chat: Chat, options: list[str]) -> Choice:
        """The model's probability of each option as the reply to `chat` (raises StepFailure "model_error")."""
        ...
    def confidence(self, slot: str) -> float | None:
        """The confidence (0 to 1) of the model op whose value the slot holds, or None."""
        ...
    @property
    def memory(self) -> ContextMemory:
        """The process's context pages and working set."""
        ...
    def say(self, line: str) -> None:
        """A line of progress while the step runs (live only: shown under its status line on
        a terminal, never traced; the step's result and detail say what it did)."""
        ...


def diag(step: Step, code: str, message: str, severity: str = "error") -> Diagnostic:
    return Diagnostic(code, message, step=step.id, line=step.line, column=step.column, severity=severity)


def int_range(step: Step, name: str, low: int, high: int) -> list[Diagnostic]:
    """An `int` operand written in the plan is within low..high (its type is the checker's: a slot cannot fill it)."""
    value = step.args.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
        return [diag(step, "E_ARG_INVALID", f"{name}={value} is outside {low} to {high}")]
    return []


def literal_int(step: Step, name: str, low: int, high: int) -> list[Diagnostic]:
    """A `value` operand that takes a whole number (a number, or a slot checked when it runs):
    a located diagnostic when a literal is not one, or out of range."""
    value = step.args.get(name)
    if value is None or isinstance(value, SlotRef):
        return []
    if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, str) and value.strip().isdigit()):
        return [diag(step, "E_TYPE_MISMATCH", f"{name}= takes a whole number from {low} to {high}, not {value!r}")]
    if not low <= int(value) <= high:
        return [diag(step, "E_ARG_INVALID", f"{name}={value} is outside {low} to {high}")]
    return []


def run_int(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    """A whole-number argument as the step runs (a slot's value included): out of range or not a number is the step's failure."""
    raw = args.get(name, default)
    text = as_text(raw).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise StepFailure("invalid_output", f"{name}= is {text!r}; it takes a whole number from {low} to {high}")
    return int(text)


def workspace_path(policy: Policy, raw: Any, access: str) -> str:
    """A path operand, resolved within the policy's roots (raises StepFailure when refused)."""
    path = as_text(raw).strip()
    verdict = resolve(policy, path, access)
    if verdict.relative is None:
        raise StepFailure("permission_denied", verdict.message or "path refused")
    return verdict.relative


def answered(response: dict[str, Any], value: Any, detail: dict[str, Any] | None = None) -> Outcome:
    """The outcome of one executor response: ok with `value`, or its failure kind and message."""
    detail = dict(detail or {})
    if response.get("status") == "ok":
        return Outcome(value, detail)
    failure = response.get("failure") or "sandbox_error"
    if response.get("truncated"):
        detail["truncated"] = True
    return Outcome(value, detail, failure, response.get("message") or failure)


class Handler:
    """One opcode's semantics. Subclasses set `op` (the name in isa/opcodes.json) and
    override what their opcode does beyond the table's data."""

    op: ClassVar[str]
    #: the wire op of sandbox/executor.py this opcode sends, if any (a test keeps them in step)
    wire: ClassVar[str | None] = None
    #: how the renderer marks a step of this opcode that has no effects ("runs" for exec)
    label: ClassVar[str] = ""
    #: it asks the model (the run needs one)
    asks_model: ClassVar[bool] = False
    #: its value comes with a confidence in the step's detail (a branch may test it)
    confident: ClassVar[bool] = False
    #: the only values it gives, when they are a fixed few (eval: yes, no)
    answers: ClassVar[tuple[str, ...] | None] = None

    def flow(self, step: Step) -> Flow:
        """Where control goes after the step: the next step, by default."""
        return Flow()

    def relabel(self, step: Step, old: str, new: str) -> Step:
        """The step with its labels naming step `old` renamed to `new` (a repair renames the step it replaces)."""
        return step

    def check_reads(self, step: Step, sources: Mapping[str, tuple[Source, ...]]) -> list[Diagnostic]:
        """Checks of the values that reach this step, by the steps that may have written each
        slot it reads (the control-flow graph's reaching writes)."""
        return []

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        """Checks of this opcode beyond the operand, type and path checks the table drives."""
        return []

    def facts(self, step: Step, opcode: Opcode, skills: SkillTable, facts_of: FactsOf) -> StepFacts:
        """What the step does, from the table's effect and permission rules by default."""
        given = set(step.args)
        path = step.args.get("path")
        effects = opcode.has_effects(given)
        return StepFacts(effects=effects, permission=opcode.needs_permission(given),
                         writes=(path,) if effects and isinstance(path, str) else ())

    def command(self, step: Step) -> str | None:
        """The command text the step runs, for repair prompts and review (None: it runs none)."""
        return None

    def memory_key(self, step: Step) -> str:
        """What the repair memory learns fixes under (babel.vm.RepairMemory): the opcode by default."""
        return step.op

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        """Perform the step, its operands resolved to values (`args`)."""
        raise StepFailure("invalid_output", f"the runtime cannot run opcode {step.op!r}")
