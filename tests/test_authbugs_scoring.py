"""The scoring rules of bench/bench_authbugs.py and the consistency of bench/authbugs/.

No model and no Docker: detector commands here are small shell one-liners.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_authbugs", ROOT / "bench" / "bench_authbugs.py")
assert _spec and _spec.loader
ba = importlib.util.module_from_spec(_spec)
sys.modules["bench_authbugs"] = ba
_spec.loader.exec_module(ba)


def make_truth(tmp_path: Path) -> object:
    root = tmp_path / "svc"
    (root / "app").mkdir(parents=True)
    (root / "app" / "views.py").write_text("".join(f"line {n}\n" for n in range(1, 61)))
    (root / "app" / "auth.py").write_text("".join(f"line {n}\n" for n in range(1, 31)))
    return ba.Truth(
        service="svc", split="dev", language="python",
        bug=ba.Region("app/views.py", 10, 20, "idor"), bug_line=15,
        lookalikes=[ba.Region("app/views.py", 30, 40, "idor"), ba.Region("app/auth.py", 5, 9, "plaintext-password")],
        root=root,
    )


# ---------------------------------------------------------------- parsing


def test_parse_findings_reads_path_line_prefixes():
    out = "\n".join([
        "app/views.py:15: [idor] db.delete(note_id)",
        "./app/auth.py:7: [why] code",
        "app/views.py:15: [again] same place",
        "  app/other.py:3 indented, still a finding",
        "Found 2 problems:",
        "19:03:14 a timestamp is not a finding",
        "see https://example.com:443/x",
        "\x1b[1mapp/auth.py:8\x1b[0m: [coloured]",
        "app/views.py:abc: not a number",
        "",
    ])
    assert ba.parse_findings(out) == [("app/views.py", 15), ("app/auth.py", 7), ("app/other.py", 3), ("app/auth.py", 8)]


def test_parse_findings_strips_workspace_prefixes():
    out = "/tmp/x/workspace/app/views.py:12: a\n/workspace/app/auth.py:2: b\nworkspace.py:1: kept\n"
    found = ba.parse_findings(out, ("/tmp/x/workspace", "/workspace"))
    assert found == [("app/views.py", 12), ("app/auth.py", 2), ("workspace.py", 1)]


def test_parse_findings_accepts_line_ranges_and_brackets():
    assert ba.parse_findings("a.py:4-9 range\n[b.js:3]\nc.js:5, d\n") == [("a.py", 4), ("c.js", 5)]


# ---------------------------------------------------------------- region matching


def test_bug_found_at_region_edges(tmp_path):
    truth = make_truth(tmp_path)
    for line in (10, 15, 20):
        s = ba.score(truth, [("app/views.py", line)])
        assert s.found and s.true_reports == 1 and s.false_reports == 0
    for line in (9, 21):
        s = ba.score(truth, [("app/views.py", line)])
        assert not s.found and s.false_reports == 1


def test_bug_needs_the_right_file(tmp_path):
    s = ba.score(make_truth(tmp_path), [("app/auth.py", 15), ("views.py", 15)])
    assert not s.found and s.false_reports == 2 and s.outside == [("app/auth.py", 15), ("views.py", 15)]


def test_lookalike_region_counts_once(tmp_path):
    s = ba.score(make_truth(tmp_path), [("app/views.py", 30), ("app/views.py", 35), ("app/views.py", 40), ("app/auth.py", 6)])
    assert not s.found
    assert s.false_reports == 2
    assert [(r.file, r.start) for r in s.lookalikes_reported] == [("app/views.py", 30), ("app/auth.py", 5)]
    assert s.outside == []


def test_outside_lines_count_per_distinct_line(tmp_path):
    findings = [("app/views.py", 50), ("app/views.py", 51), ("app/views.py", 50), ("app/views.py", 12), ("app/views.py", 13)]
    s = ba.score(make_truth(tmp_path), findings)
    assert s.found and s.true_reports == 1  # two lines in the bug region are one true report
    assert s.false_reports == 2 and s.outside == [("app/views.py", 50), ("app/views.py", 51)]


def test_no_findings(tmp_path):
    s = ba.score(make_truth(tmp_path), [])
    assert (s.found, s.true_reports, s.false_reports) == (False, 0, 0)


# ---------------------------------------------------------------- totals


def record(found, true, false, looks=0, total=3, error=None, wall=1.0):
    return {"found": found, "true_reports": true, "false_reports": false, "lookalikes_reported": ["x"] * looks,
            "lookalikes_total": total, "error": error, "wall_s": wall}


def test_totals():
    t = ba.totals([record(True, 1, 0), record(False, 0, 3, looks=1), record(True, 1, 1), record(False, 0, 0, error="exit 1")])
    assert t["services"] == 4 and t["found"] == 2 and t["recall"] == 0.5
    assert t["true_reports"] == 2 and t["false_reports"] == 4 and t["precision"] == pytest.approx(2 / 6)
    assert t["lookalikes_reported"] == 1 and t["lookalikes_total"] == 12
    assert t["errors"] == 1 and t["wall_s"] == 4.0


def test_totals_without_reports_has_no_precision():
    t = ba.totals([record(False, 0, 0), record(False, 0, 0)])
    assert t["recall"] == 0 and t["precision"] is None


# ---------------------------------------------------------------- truth files


def test_load_truth_refuses_bad_files(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.py").write_text("x\n" * 10)
    path = tmp_path / "s.truth.yaml"
    bad = {
        "line outside region": "bug: {file: a.py, lines: [2, 4], line: 5, kind: k}\n",
        "overlap": "bug: {file: a.py, lines: [2, 4], line: 3, kind: k}\nlookalikes: [{file: a.py, lines: [4, 6], kind: k}]\n",
        "past the end": "bug: {file: a.py, lines: [2, 11], line: 3, kind: k}\n",
        "missing file": "bug: {file: b.py, lines: [2, 4], line: 3, kind: k}\n",
        "no kind": "bug: {file: a.py, lines: [2, 4], line: 3}\n",
    }
    for text in bad.values():
        path.write_text(text)
        with pytest.raises(ba.TruthError):
            ba.load_truth(path)
    path.write_text("language: python\nbug: {file: a.py, lines: [2, 4], line: 3, kind: k}\n"
                    "lookalikes: [{file: a.py, lines: [5, 6], kind: k, why_fine: ok}]\n")
    truth = ba.load_truth(path)
    assert truth.bug == ba.Region("a.py", 2, 4, "k") and truth.root == tmp_path / "s"


def test_suite_truths_are_consistent():
    dev, held = ba.load_split("dev"), ba.load_split("heldout")
    assert len(dev) == 10 and len(held) == 20
    kinds = Counter(t.bug.kind for t in dev + held)
    assert max(kinds.values()) <= 3, kinds
    languages = Counter(t.language for t in dev + held)
    assert languages == {"python": 15, "javascript": 15}
    for t in dev + held:
        assert 2 <= len(t.lookalikes) <= 4, t.service
        files = [p for p in t.root.rglob("*") if p.is_file()]
        assert 3 <= len(files) <= 8, t.service
        total = sum(len(p.read_text().splitlines()) for p in files)
        assert 80 <= total <= 400, (t.service, total)
        assert not any(p.name.endswith(".truth.yaml") for p in files)


# ---------------------------------------------------------------- running commands


def test_evaluate_with_a_fake_detector(tmp_path):
    truth = ba.load_split("dev", only="d01-notes")[0]
    bug, look = truth.bug, truth.lookalikes[0]
    cmd = (f"printf '%s\\n' './{bug.file}:{truth.bug_line}: [x] y' '{look.file}:{look.start}: [x] y' "
           f"'{look.file}:{look.end}: z' 'no/such.py:1: w' 'summary line'; test -f {bug.file}")
    rec = ba.evaluate(truth, cmd, {"PATH": "/usr/bin:/bin"}, timeout=30)
    assert rec["found"] and rec["true_reports"] == 1
    assert rec["false_reports"] == 2 and rec["lookalikes_reported"] == [f"{look.file}:{look.start}-{look.end}"]
    assert rec["outside"] == ["no/such.py:1"] and rec["error"] is None and rec["exit_code"] == 0
    json.dumps(rec)


def test_failing_and_hanging_commands_become_rows(tmp_path):
    truth = ba.load_split("dev", only="d01-notes")[0]
    failed = ba.evaluate(truth, "echo notes/routes.py:1: x; echo boom >&2; exit 3", {"PATH": "/usr/bin:/bin"}, timeout=30)
    assert failed["error"] == "exit 3: boom" and failed["exit_code"] == 3 and failed["false_reports"] == 1
    hung = ba.evaluate(truth, "echo notes/db.py:1: early; sleep 30", {"PATH": "/usr/bin:/bin"}, timeout=0.5)
    assert hung["error"].startswith("timed out") and hung["exit_code"] is None and hung["wall_s"] < 10
    assert hung["findings"] == ["notes/db.py:1"]
    missing = ba.run_command("true", tmp_path / "nowhere", {"PATH": "/usr/bin:/bin"}, timeout=5)
    assert missing[3] and missing[3].startswith("could not start")


def test_main_prints_a_table_and_exits_0(capsys):
    code = ba.main(["--split", "dev", "--command", "true"])
    out = capsys.readouterr().out
    assert code == 0 and "recall 0/10 = 0%" in out and "precision 0/0 = n/a" in out


def test_main_json_records(capsys):
    code = ba.main(["--split", "heldout", "--only", "h01", "--command", "echo recipes/models.py:12: md5", "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 1 and json.loads(lines[0])["found"] is True


def test_table_totals_per_split(capsys):
    ba.main(["--split", "all", "--only", "01-", "--command", "true"])
    out = capsys.readouterr().out
    assert "dev: recall 0/1 = 0%" in out and "heldout: recall 0/1 = 0%" in out and "all: recall 0/2 = 0%" in out
