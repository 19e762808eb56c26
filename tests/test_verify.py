"""The verifier names every problem of a plan, with a stable code and the step it is in."""

from __future__ import annotations

import pytest

from babel.lang.plan import parse_plan
from babel.verify.check import is_valid, step_facts, verify
from babel.verify.policy import Policy
from babel.verify.shell import read_command_line


def codes(source: str, policy: Policy | None = None) -> list[str]:
    parsed = parse_plan(source)
    assert parsed.plan is not None, parsed.diagnostics
    return [d.code for d in verify(parsed.plan, policy or Policy()) if d.is_error]


def test_a_good_plan_is_valid() -> None:
    plan = parse_plan('s1: src = read "src/app.py"\ns2: grep "TODO" in=$src\n').plan
    assert plan is not None and is_valid(verify(plan))


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ('reed "a"', "E_OPCODE_UNKNOWN"),
        ("fork", "E_OPCODE_RESERVED"),
        ('read "a" colour=true', "E_ARG_UNKNOWN"),
        ("read", "E_ARG_MISSING"),
        ("exec", "E_ARG_MISSING"),
        ('exec "ls" argv=["ls"]', "E_ARG_CONFLICT"),
        ('x = read "a"\ngrep "y" in=$x paths="b"', "E_ARG_CONFLICT"),
        ('read "a" encoding="utf-16"', "E_ARG_INVALID"),
        ('grep "a" ignore_case="yes"', "E_TYPE_MISMATCH"),
        ('exec argv="ls"', "E_TYPE_MISMATCH"),
        ('m = grep "a"\nread $m', "E_TYPE_MISMATCH"),
        ("read $nowhere", "E_SLOT_UNDEFINED"),
        ('read $later\nlater = read "a"', "E_SLOT_UNDEFINED"),
        ('s1: read "a"\ns1: read "b"', "E_STEP_DUPLICATE_ID"),
        ('read "a"\nresult $nothing', "E_RESULT_UNDEFINED"),
        ('read "../etc/passwd"', "E_PATH_OUTSIDE_ROOT"),
        ('read "/etc/passwd"', "E_PATH_OUTSIDE_ROOT"),
        ('grep "x" paths=["src", "/etc"]', "E_PATH_OUTSIDE_ROOT"),
        ('write "out.txt" "hello"', "E_PERMISSION_WRITE"),
        ('exec "sed -i s/a/b/ f.txt"', "E_PERMISSION_WRITE"),
        ('exec "sort a > /tmp/b"', "E_PATH_OUTSIDE_ROOT"),
        ('exec "nmap localhost"', "E_EXEC_NOT_ALLOWED"),
        ('exec "ls | xargs shred"', "E_EXEC_NOT_ALLOWED"),
        ('exec "echo $(nmap x)"', "E_EXEC_NOT_ALLOWED"),
        ('exec "curl https://example.com"', "E_NETWORK_DENIED"),
        ('x = read "cmd.txt"\nexec $x', "E_EXEC_DYNAMIC"),
        ('exec "ls" timeout=3600', "E_BUDGET_TIME"),
        ('exec "echo x#; nmap"', "E_EXEC_NOT_ALLOWED"),
        ('exec "/usr/bin/id"', "E_EXEC_UNCHECKABLE"),
        ('exec "env -i ls"', "E_EXEC_UNCHECKABLE"),
        ('exec argv=["sort", "--compress-program=id", "f"]', "E_EXEC_UNCHECKABLE"),
    ],
)
def test_each_problem_has_its_code(source: str, code: str) -> None:
    assert code in codes(source)


def test_an_empty_plan_is_rejected() -> None:
    plan = parse_plan("# nothing\n").plan
    assert plan is not None and [d.code for d in verify(plan)] == ["E_PLAN_EMPTY"]


def test_step_budget() -> None:
    source = "\n".join('read "a"' for _ in range(5))
    assert "E_BUDGET_STEPS" in codes(source, Policy(budgets=__import__("babel.verify.policy").verify.policy.Budgets(steps=4)))


def test_diagnostics_carry_step_line_and_column() -> None:
    plan = parse_plan('s1: read "a"\n\n  s2: read $nope\n').plan
    assert plan is not None
    [d] = [d for d in verify(plan) if d.is_error]
    assert (d.step, d.line, d.column, d.code) == ("s2", 3, 3, "E_SLOT_UNDEFINED")


def test_writes_are_allowed_only_under_granted_roots() -> None:
    policy = Policy().granting_writes(("out",))
    assert codes('write "out/r.txt" "x"', policy) == []
    assert codes('write "src/r.txt" "x"', policy) == ["E_PERMISSION_WRITE"]
    assert codes('exec "sort a > out/b"', policy) == []


def test_the_workspace_mount_point_is_part_of_the_workspace() -> None:
    policy = Policy(workspace="/testbed")
    assert codes('read "/testbed/a.txt"', policy) == []
    assert codes('read "/workspace/a.txt"', policy) == ["E_PATH_OUTSIDE_ROOT"]


def test_warnings_do_not_reject() -> None:
    plan = parse_plan('unused = read "a"\nread "b"\n').plan
    assert plan is not None
    diagnostics = verify(plan)
    assert [d.code for d in diagnostics] == ["W_SLOT_UNUSED"] and is_valid(diagnostics)


def test_effects_of_steps() -> None:
    plan = parse_plan('read "a"\nexec "grep -c x f"\nexec "sed -i s/a/b/ f"\nwrite "f" "x"\nx = write value="y"\n').plan
    assert plan is not None
    assert [step_facts(s).effects for s in plan.steps] == [False, False, True, True, False]


@pytest.mark.parametrize(
    ("cmd", "programs", "writes"),
    [
        ("find . -name '*.py' | xargs wc -l | sort -n", ["find", "xargs", "wc", "sort"], False),
        ("for f in *.txt; do wc -l \"$f\"; done", ["wc"], False),
        ("grep -c 'a|b' f 2>/dev/null", ["grep"], False),
        ("x=$(ls | wc -l); echo $x", ["ls", "wc"], False),
        ("timeout 5 python3 -c 'print(1)'", ["timeout", "python3"], False),
        ("find . -name '*.tmp' -exec rm {} \\;", ["find", "rm"], True),
        ("awk '{print $1}' a > b", ["awk"], True),
        ("sort -u names.txt -o names.txt", ["sort"], True),
        ("sort -uo out.txt in.txt", ["sort"], True),
        ("sort -n data.txt", ["sort"], False),
        ("uniq in.txt out.txt", ["uniq"], True),
        ("find . \\( -name '*.c' -o -name '*.h' \\) -type f", ["find"], False),
        ("sed 's/\\(a\\)b/\\1/' f", ["sed"], False),
        ("echo x#; id", ["id"], False),
        ("tar -tzf a.tgz", ["tar", "gzip"], False),
        ("xargs -I {} cp {} dst", ["xargs", "cp"], True),
    ],
)
def test_the_shell_reader(cmd: str, programs: list[str], writes: bool) -> None:
    line = read_command_line(cmd)
    assert line.programs == programs and line.writes == writes and not line.problems


def test_a_program_taken_from_a_slot_is_refused_even_when_writes_are_granted() -> None:
    plan = parse_plan('s1: p = write value="rm"\ns2: exec argv=[$p, "-rf", "x"]').plan
    assert plan is not None
    assert "E_EXEC_DYNAMIC" in [d.code for d in verify(plan, Policy(write=(".",))) if d.is_error]
