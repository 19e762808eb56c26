"""The naive baseline of `babel eval --naive`, and the metering every eval task has.

The loop's mechanics (the full history each round, outputs cut at 800 characters, the
8-round cap, finish, the last output as the result) are tested with a scripted model in
the real sandbox; the real embedded model (Qwen2.5-Coder-1.5B) drives it once, its
replies recorded in tests/cassettes/naive.json (re-record: BABEL_RECORD=1 python -m
pytest tests/test_naive.py).
"""

from __future__ import annotations

from pathlib import Path

from babel.app import naive_runner
from babel.app.evaluate import Task, iter_summary
from babel.app.naive import CUT, ROUNDS, reply_action, shown
from babel.model import Capabilities, Completion, Metered, ModelRequest, ModelResult, Sampling
from babel.sandbox import started
from tests.conftest import cassette_client

CASSETTE = Path(__file__).parent / "cassettes" / "naive.json"


class Scripted:
    """A model that replies with `replies` in turn (then finish), and keeps every prompt it was sent."""

    name = "scripted"
    capabilities = Capabilities(generate_many=False, schema=False, score=False)
    sampling = Sampling()

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.chats = list(replies), []  # type: ignore[var-annotated]

    def submit(self, requests: list[ModelRequest]) -> list[ModelResult]:
        out = []
        for request in requests:
            self.chats.append(request.chats[0])
            text = self.replies.pop(0) if self.replies else "Act: finish"
            tokens = sum(len(m["content"]) for m in request.chats[0]) // 4
            out.append(ModelResult((Completion(text, tokens, 9, None, "m", 0.0, prefilled=tokens // 2),)))
        return out

    def close(self) -> None:
        pass


def bash(cmd: str) -> str:
    return f"Act: bash\n```bash\n{cmd}\n```"


def test_replies_are_read_as_a_command_or_finish() -> None:
    assert reply_action(bash("wc -l < notes.txt")) == ("bash", "wc -l < notes.txt")
    assert reply_action("```sh\nls\n```") == ("bash", "ls")
    assert reply_action("Act: finish") == ("finish", None) and reply_action("I think so.") == ("unclear", None)
    long = shown("x" * (CUT + 50), "", "ok")
    assert long.count("x") == CUT and "50 more characters cut" in long


TASK = Task("count", "how many lines are in notes.txt?", "printf 'a\\nb\\nc\\n' > notes.txt", "/workspace", {"output": "3"})


def test_the_loop_shows_every_earlier_command_and_output_and_takes_the_last_output(docker_ready: None) -> None:
    model = Scripted(["let me look", bash("cat notes.txt"), bash("wc -l < notes.txt"), "Act: finish"])
    result = naive_runner(model, started)(TASK)  # type: ignore[arg-type]
    assert result.passed and result.result is not None and result.result.strip() == "3", result
    assert result.plan == "cat notes.txt\nwc -l < notes.txt" and result.model_calls == 4
    last = "\n".join(m["content"] for m in model.chats[-1])
    assert "how many lines" in last and "a\nb\nc" in last and "Act: bash" in last  # the whole history, every round
    assert "Reply with Act: bash" in model.chats[1][-1]["content"]  # an unclear reply is answered, and costs its round
    assert result.context_tokens == sum(sum(len(m["content"]) for m in c) // 4 for c in model.chats)
    assert 0 < result.prefilled_tokens < result.context_tokens


def test_the_loop_stops_after_its_rounds(docker_ready: None) -> None:
    model = Scripted([bash(f"echo {n}") for n in range(20)])
    result = naive_runner(model, started)(TASK)  # type: ignore[arg-type]
    assert result.model_calls == ROUNDS and not result.passed and (result.result or "").strip() == str(ROUNDS - 1)


def test_a_code_task_puts_the_whole_workspace_in_the_first_message(docker_ready: None) -> None:
    task = Task("code", "which function compares a password?", "mkdir src && printf 'def login(pw):\\n    return pw == \"x\"\\n' > src/a.py",
                "/workspace", {"contains": ["login"]}, tags=("code",))
    model = Scripted([bash("grep -n 'def ' src/a.py")])
    result = naive_runner(model, started)(task)  # type: ignore[arg-type]
    first = model.chats[0][1]["content"]
    assert "=== ./src/a.py ===" in first and 'return pw == "x"' in first and result.passed


def test_the_real_model_drives_the_loop_and_every_token_is_metered(docker_ready: None) -> None:
    meter = Metered(cassette_client(CASSETTE))
    result = naive_runner(meter, started)(TASK)
    assert 1 <= result.model_calls <= ROUNDS and result.context_tokens > 100 and result.prefilled_tokens <= result.context_tokens
    assert meter.tokens.sent == result.context_tokens and meter.tokens.requests == result.model_calls
    assert result.plan and result.result is not None and "3" in result.result, result  # its last command's output is the result
    assert result.prefilled_tokens < result.context_tokens  # the second round's prompt extends the first's: its cells are kept
    lines = list(iter_summary([result]))
    assert any("context tokens a task" in line for line in lines) and lines[-1].endswith(" failed")
