"""Event records: their JSON form is the trace's line, and reads back into the same record."""

from __future__ import annotations

from babel.lang import (
    MAIN_PID,
    Commit,
    CommitRefused,
    Discard,
    Recovered,
    Repair,
    ResultChecked,
    RunEnd,
    RunStart,
    StepResult,
    event_from_json,
)

RECORDS = [
    RunStart("r1", "2026-12-02T00:00:00+00:00", {"steps": []}, {"read": ["."]}, {"request": "count lines", "model": "m"}),
    StepResult("s1", "exec", "failed", "nonzero_exit", "exit 2", "", False, 0, 1.5, {"exit_code": 2}),
    ResultChecked("s1", "the request asks for a number", pid=2),
    Repair("s1", "patched", "nonzero_exit: exit 2", "s1: exec \"wc -l x\"", "s1-r1: exec \"wc -l y\"", "s1-r1", "model"),
    Recovered("rolled back run r0"),
    Commit("r1", ["a.txt"], []),
    CommitRefused("r1", ["b.txt: outside the write roots"]),
    Discard("r1", "the run did not complete; the workspace is unchanged"),
    RunEnd("r1", "ok", "3\n", 1, 0, [], 12.0),
]


def test_every_record_reads_back_from_its_json_form() -> None:
    for record in RECORDS:
        line = record.to_json()
        assert line["event"] == record.kind and line["pid"] == record.pid
        assert event_from_json(line) == record, record.kind


def test_the_caller_s_fields_of_a_run_start_stay_at_the_top_of_its_line() -> None:
    line = RECORDS[0].to_json()
    assert line["request"] == "count lines" and "meta" not in line


def test_a_line_written_before_processes_existed_is_process_one() -> None:
    old = {"event": "step", "id": "s1", "op": "grep", "status": "ok", "output": "a:1:x"}
    record = event_from_json(old)
    assert isinstance(record, StepResult) and record.pid == MAIN_PID and record.ok and record.failure is None


def test_a_line_of_an_unknown_kind_is_not_a_record() -> None:
    assert event_from_json({"event": "from-the-future"}) is None
