"""`babel eval --naive`: the baseline Babel's context memory is measured against.

It does what today's agent loops do, with Babel's model, sandbox and tasks: a full-history
loop. Each round the model is shown the request and every earlier command and its output
(cut at 800 characters, as AgentBench's OS loop cuts them), and answers with one shell
command or with `finish`; at most 8 rounds. The result is the last command's output, as
an interactive shell task is scored. For a task tagged `code`, the whole workspace's text
(every file under 200 KB) goes into the first message, as a naive "read the code" prompt
does. Nothing is checked before it runs: the sandbox's own rules (the policy's read and
write roots and its allow-list of programs, enforced by the kernel) are all that stands
between a command and the workspace, as for any plan's commands.

The prompt is Babel's own wording, not a benchmark's. The model's calls are metered by
the eval runner's `Metered`, like Babel's, so the two modes' records compare.
"""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any

from babel.app.evaluate import Fixture, Runner, SandboxFactory, Task, TaskResult, check, in_fixture, read_task_files, run_script, task_policy
from babel.model import Chat, Metered, ModelClient, ModelError, ModelRequest, Sample
from babel.verify import kernel_rules
from babel.vm import exec_request

ROUNDS = 8
CUT = 800
MAX_TOKENS = 256
WORKSPACE_FILE_LIMIT = 200_000

SYSTEM = """You are working in a Linux shell to do a task. The workspace is {mount}, and every command starts there.
Each turn, reply in one of two ways, and nothing else:

Act: bash
```bash
one shell command
```

or, when the output of your last command is the answer:

Act: finish

Use standard tools (grep, find, sed, awk, sort, uniq, wc, head, cut, ...). The last command's output is taken as your answer."""

FENCE = re.compile(r"```(?:bash|sh|shell)?[ \t]*\n(.*?)```", re.DOTALL)
DUMP = ("find . -type f -size -{limit}c | LC_ALL=C sort | while IFS= read -r f; do "
        "printf '=== %s ===\\n' \"$f\"; cat \"$f\"; printf '\\n'; done")


def reply_action(text: str) -> tuple[str, str | None]:
    """What a reply asks: ("bash", command), ("finish", None), or ("unclear", None)."""
    found = FENCE.search(text)
    if found and found.group(1).strip():
        return "bash", found.group(1).strip()
    if re.search(r"act:\s*finish", text, re.IGNORECASE):
        return "finish", None
    return "unclear", None


def shown(stdout: str, stderr: str, status: str) -> str:
    """A command's output as the next round shows it: cut at CUT characters."""
    text = stdout if stdout.strip() else stderr
    text = text if text.strip() else "(no output)"
    cut = text if len(text) <= CUT else text[:CUT] + f"\n[... {len(text) - CUT} more characters cut]"
    return f"The output ({status}):\n{cut}"


def naive_runner(model: ModelClient, sandbox_factory: SandboxFactory, *, rounds: int = ROUNDS) -> Runner:
    """A runner of the full-history baseline (see the module's docstring)."""

    def run_task(task: Task) -> TaskResult:
        return in_fixture(task, sandbox_factory, partial(loop, task, Metered(model)))

    def loop(task: Task, meter: Metered, fixture: Fixture, expected_output: str | None, started: float) -> TaskResult:
        policy = task_policy(task)
        rules = kernel_rules(policy)
        with sandbox_factory(fixture.path, task.workspace, True) as box:
            first = task.request
            if "code" in task.tags:
                _, text, _ = run_script(box, DUMP.format(limit=WORKSPACE_FILE_LIMIT))
                first = f"{task.request}\n\nThe files of the workspace:\n{text}"
            chat: Chat = [{"role": "system", "content": SYSTEM.format(mount=task.workspace)}, {"role": "user", "content": first}]
            commands: list[str] = []
            result: str | None = None
            reason = ""
            for _ in range(rounds):
                try:
                    answer = meter.submit([ModelRequest((list(chat),), (Sample(0.0, 0),), max_tokens=MAX_TOKENS)])[0]
                except ModelError as error:
                    reason = f"model_error: {str(error)[:160]}"
                    break
                reply = answer.completions[0].text
                chat.append({"role": "assistant", "content": reply})
                action, command = reply_action(reply)
                if action == "finish":
                    break
                if command is None:
                    chat.append({"role": "user", "content": "Reply with Act: bash and one command in a ```bash block, or with Act: finish."})
                    continue
                commands.append(command)
                response: dict[str, Any] = box.call(exec_request(command, rules, float(policy.budgets.step_timeout), policy.budgets.output_bytes))
                raw = response.get("value")
                value: dict[str, Any] = raw if isinstance(raw, dict) else {}
                stdout, stderr = str(value.get("stdout", "")), str(value.get("stderr", "") or response.get("message", ""))
                status = "ok" if response.get("status") == "ok" else str(response.get("failure") or "failed")
                result = stdout
                chat.append({"role": "user", "content": shown(stdout, stderr, status)})
            files = read_task_files(box, task)
        passed, why = check(task, result, files, expected_output)
        tokens = meter.tokens
        return TaskResult(task.id, passed, result, expected_output if expected_output is not None else task.expect.get("output"),
                          reason or why, round(time.perf_counter() - started, 3), prompt_tokens=tokens.sent,
                          completion_tokens=tokens.generated, model_calls=tokens.requests, plan="\n".join(commands) or None,
                          context_tokens=tokens.sent, prefilled_tokens=tokens.prefilled)

    return run_task
