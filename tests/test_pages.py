"""Context memory: pages, the page table, the working set's budget, and the memory ops.

The working set's rules (least recently used eviction, pins, write-back, reuse across
runs, a changed source invalidating its page) are tested on `Memory` itself, its file
reads served from a dict; the memory ops and the model ops over pages run in the real
sandbox, the model's answers replayed from tests/cassettes/model_ops.json (the same
questions over the same text as tests/test_model_ops.py: paging changes what is
counted and kept, never the messages the model reads).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from babel.cli.main import app
from babel.lang import Plan, parse_plan
from babel.verify import Policy, StepFailure, verify
from babel.verify.policy import Budgets
from babel.vm import ALU, Memo, Memory, PageStore, RunResult, count_tokens, run_plan
from tests.conftest import cassette_client, make_files

CASSETTE = Path(__file__).parent / "cassettes" / "model_ops.json"
CLAIM = "Order 1142 arrived broken. The box was crushed and the glass is in pieces. I want my money back.\n"


class Files:
    """A reader over a dict of files, counting its reads (the sandbox's read path, in the unit tests)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files, self.reads = files, 0

    def __call__(self, path: str) -> str:
        self.reads += 1
        if path not in self.files:
            raise StepFailure("not_found", f"no file {path}")
        return self.files[path]


def text_of(tokens: int) -> str:
    return "x" * (tokens * 3)


def test_tokens_are_counted_the_same_without_a_model() -> None:
    assert count_tokens("") == 0 and count_tokens("abc") == 1 and count_tokens("abcd") == 2
    assert count_tokens("é" * 3) == 2  # bytes, not characters


def test_the_least_recently_used_page_is_evicted_and_faults_back_in() -> None:
    files = Files({"a": text_of(40), "b": text_of(40), "c": text_of(40)})
    memory = Memory(PageStore(), budget=100)
    a = memory.file("a", files("a"))
    b = memory.file("b", files("b"))
    memory.context([a], 0, 100, files)  # a is used again: b is now the least recently used
    memory.file("c", files("c"))
    assert set(memory.resident) == {"file:a", "file:c"} and memory.stats.evictions == 1 and memory.used <= 100
    reads = files.reads
    memory.context([b], 0, 100, files)  # a fault: b is read again through the reader
    assert files.reads == reads + 1 and "file:b" in memory.resident and memory.stats.faults == 4
    assert memory.stats.peak_resident <= 100


def test_pinned_pages_stay_and_a_context_that_cannot_fit_fails() -> None:
    files = Files({"big": text_of(70), "small": text_of(40)})
    memory = Memory(PageStore(), budget=100)
    big = memory.file("big", files("big"), pin=True)
    with pytest.raises(StepFailure) as error:
        memory.file("small", files("small"))  # 70 pinned + 40 > 100, and the pinned page may not go
    assert error.value.failure == "context_over_budget" and "pinned" in error.value.message
    assert memory.resident == {"file:big": big}
    with pytest.raises(StepFailure) as error:
        memory.context([big], 40, 100, files)  # the page and the call's own 40 tokens: 110 > 100
    assert error.value.failure == "context_over_budget" and "110" in error.value.message
    memory.free(big.ref())
    memory.file("small", files("small"))
    assert set(memory.resident) == {"file:small"}


def test_a_dirty_page_is_written_back_when_evicted_and_read_back_from_the_table(tmp_path: Path) -> None:
    store = PageStore(tmp_path / "pages.sqlite")
    memory = Memory(store, budget=100)
    note = memory.value("store:note", text_of(60))
    assert note.dirty and store.get("store:note") is None  # not on disk until written back
    memory.value("store:other", text_of(60))  # evicts the note: written back first
    row = store.get("store:note")
    assert row is not None and row["text"] == text_of(60) and memory.stats.writebacks == 1 and not note.dirty
    back = memory.context([memory.page(note.ref())], 0, 100, Files({}))  # a fault from the table, not from a file
    assert back == [text_of(60)]


def test_pages_are_reused_across_runs_until_their_source_changes(tmp_path: Path) -> None:
    files = Files({"src/auth.py": "def login(user, pw):\n    return pw == 'letmein'\n"})
    first = Memory(PageStore(tmp_path / "pages.sqlite"), budget=1000)
    page = first.file("src/auth.py", files("src/auth.py"))
    first.flush()
    second = Memory(PageStore(tmp_path / "pages.sqlite"), budget=1000)
    again = second.file("src/auth.py", files("src/auth.py"))
    assert (again.id, again.tokens) == (page.id, page.tokens) and second.stats.reused == 1 and second.stats.invalidated == 0
    files.files["src/auth.py"] += "def logout(): pass\n"
    third = Memory(PageStore(tmp_path / "pages.sqlite"), budget=1000)
    changed = third.file("src/auth.py", files("src/auth.py"))
    assert changed.id != page.id and third.stats.invalidated == 1 and third.stats.reused == 0
    with pytest.raises(StepFailure) as error:  # the old page's reference no longer names the table's page
        third.page(page.ref())
    assert error.value.failure == "not_found"
    rows = PageStore(tmp_path / "pages.sqlite").rows()
    assert [(r["source"], r["id"], r["uses"]) for r in rows] == [("file:src/auth.py", changed.id, 3)]


def test_an_allocated_page_holds_its_size_and_takes_no_more() -> None:
    memory = Memory(PageStore(), budget=100)
    slot = memory.alloc("alloc:notes", 30)
    assert memory.used == 30 and slot.pinned
    memory.fill(slot.ref(), text_of(20))
    assert memory.used == 30 and slot.tokens == 20
    with pytest.raises(StepFailure) as error:
        memory.fill(slot.ref(), text_of(31))
    assert error.value.failure == "context_over_budget"


def plan_of(text: str) -> Plan:
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def codes(text: str, policy: Policy | None = None) -> list[str]:
    return [d.code for d in verify(plan_of(text), policy or Policy()) if d.is_error]


def test_the_verifier_checks_memory_ops() -> None:
    assert codes('s1: p = load "a.txt" lines="3-9"\ns2: x = eval "ok?" context=[$p, "and this"]') == []
    assert "E_ARG_INVALID" in codes('s1: p = load "a.txt" lines="9-3"')
    assert "E_ARG_MISSING" in codes("s1: p = load pin=true")
    assert "E_ARG_CONFLICT" in codes('s1: p = load "a.txt"\ns2: q = load page=$p lines="1-2"')
    assert "E_TYPE_MISMATCH" in codes('s1: free "p0123"')  # a page comes from a slot, never a literal
    assert "E_TYPE_MISMATCH" in codes('s1: p = load "a.txt"\ns2: x = exec "wc -l" stdin=$p')  # only model ops read pages
    assert "E_TYPE_MISMATCH" in codes('s1: t = read "a.txt"\ns2: free $t')
    assert "E_BUDGET_TOKENS" in codes("s1: p = alloc 5000", replace(Policy(), budgets=Budgets(context_tokens=4096)))
    assert "E_ARG_INVALID" in codes('s1: x = infer "hi" budget=10')
    assert "E_PATH_OUTSIDE_ROOT" in codes('s1: p = load "/etc/passwd"')  # a load reads, under the policy's read roots


PAGED = """\
s1: claim = load "claim.txt"
s2: other = load "other.txt"
s3: damaged = eval "Does the customer say the item arrived damaged?" context=$claim
s4: kind = select "What does the customer ask for?" options=["a refund", "a replacement", "nothing"] context=[$claim]
s5: verdict = store $damaged name="verdict"
s6: free $verdict
"""


def run(workspace: Path, text: str, pages: PageStore, budget: int = 6144) -> RunResult:
    from babel.sandbox.docker import DockerSandbox

    policy = replace(Policy(), budgets=Budgets(context_tokens=budget))
    assert codes(text, policy) == []
    with DockerSandbox(workspace) as box:
        return run_plan(plan_of(text), box, policy, alu=ALU(cassette_client(CASSETTE), Memo()), pages=pages)


def test_model_ops_read_pages_faulted_in_through_the_sandbox(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"claim.txt": CLAIM, "other.txt": text_of(150)})
    store = PageStore(tmp_path / "pages.sqlite")
    # 150 tokens of other.txt and the claim's 33 do not both fit 160: loading other evicts the
    # claim, the eval faults it back in (reading it again), evicting other
    result = run(workspace, PAGED, store, budget=160)
    assert result.ok, result.steps
    assert result.slots["damaged"] == "yes" and result.slots["kind"] == "a refund"  # the answers over the file's text, as read would give
    load, _, ask, choose, keep, free = result.steps
    assert load.detail["page"].startswith("p") and load.detail["tokens"] == count_tokens(CLAIM)
    assert ask.detail["memory"]["faults"] == 1 and ask.detail["memory"]["evictions"] == 1 and ask.detail["memory"]["tokens_sent"] <= 160
    assert choose.detail["memory"]["hits"] == 1 and "faults" not in choose.detail["memory"]
    assert free.detail["memory"]["writebacks"] == 1 and store.get("store:verdict")["text"] == "yes"  # type: ignore[index]
    assert all(s.detail.get("memory", {}).get("peak_resident", 0) <= 160 for s in result.steps)

    again = run(workspace, PAGED, store, budget=160)  # the next run reuses the pages
    assert again.ok and again.steps[0].detail["page"] == load.detail["page"] and again.steps[0].detail["memory"]["reused"] == 1
    make_files(workspace, {"other.txt": text_of(149)})
    changed = run(workspace, PAGED, store, budget=160)
    assert changed.steps[1].detail["memory"]["invalidated"] == 1 and changed.steps[1].detail["page"] != result.steps[1].detail["page"]


def test_a_context_over_its_budget_is_a_failure_kind_not_a_cut(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"claim.txt": CLAIM, "other.txt": text_of(150)})
    over = run(workspace, 's1: claim = load "claim.txt"\ns2: damaged = eval "Does the customer say the item arrived damaged?" '
                          'context=$claim budget=64', PageStore())
    assert not over.ok and over.steps[-1].failure == "context_over_budget" and "over its budget of 64" in (over.steps[-1].message or "")
    whole = run(workspace, 's1: big = read "other.txt"\ns2: x = infer "Summarise." context=$big', PageStore(), budget=100)
    assert whole.steps[-1].failure == "context_over_budget"  # a slot's text is paged and counted too


def test_babel_vm_pages_and_stats_show_a_run(docker_ready: None, workspace: Path, tmp_path: Path, state_dir: Path) -> None:
    make_files(workspace, {"a.txt": "one\ntwo\nthree\n", "auth.py": "def login(user, pw):\n    return pw == 'letmein'\n"})
    plan = tmp_path / "p.plan"
    plan.write_text('s1: a = load "a.txt" lines="2-3"\ns2: code = load "auth.py" pin=true\ns3: note = store "remember this" name="note"\n'
                    "s4: free $code\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["vm", "pages"]).output.startswith("no pages yet")
    ran = runner.invoke(app, ["run", str(plan), "--root", str(workspace)])
    assert ran.exit_code == 0, ran.output
    rows = json.loads(runner.invoke(app, ["vm", "pages", "--json"]).output)
    assert {r["source"]: r["tokens"] for r in rows} == {"file:a.txt#2-3": count_tokens("two\nthree\n"), "file:auth.py": 16, "store:note": 5}
    by_source: dict[str, Any] = {r["source"]: r for r in rows}
    assert by_source["store:note"]["stored"] and not by_source["file:auth.py"]["stored"] and not by_source["file:auth.py"]["resident"]
    stats = json.loads(runner.invoke(app, ["vm", "stats", "last", "--json"]).output)
    assert stats["stages"]["execute"]["faults"] == 3 and stats["stages"]["execute"]["evictions"] == 1 and stats["budget"] == 6144
    assert [s["id"] for s in stats["steps"]] == ["s1", "s2", "s3", "s4"]
    shown = runner.invoke(app, ["vm", "stats", "last"]).output
    assert "3 faults" in shown and "page " in shown
    assert runner.invoke(app, ["vm", "stats", "nosuchrun"]).exit_code != 0
