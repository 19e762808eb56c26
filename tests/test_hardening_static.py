"""The static checks hold against hand-written plans: every known way past the shell
reader is refused with its code, what the compiler emits still passes, bad input is a
diagnostic (never a traceback), and the reader never raises."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from babel.compiler.examples import LIBRARY
from babel.lang.plan import Plan, SlotRef, Step, parse_plan, plan_from_json
from babel.skills.table import load_skills, skill_dirs
from babel.verify.check import is_valid, step_facts, verify
from babel.verify.policy import DEFAULT_EXEC, Policy, PolicyError, load_policy, validate_policy
from babel.verify.shell import CommandLine, read_argv, read_command_line

WRITES = Policy().granting_writes((".",))


def errors(source: str, policy: Policy | None = None) -> list[tuple[str, str]]:
    parsed = parse_plan(source)
    assert parsed.plan is not None, parsed.diagnostics
    return [(d.code, d.message) for d in verify(parsed.plan, policy or Policy()) if d.is_error]


def exec_plan(cmd: str) -> str:
    return "exec " + json.dumps(cmd)


def refused(cmd: str, code: str, policy: Policy | None = None, says: str = "") -> None:
    found = errors(exec_plan(cmd), policy)
    assert any(c == code and says in m for c, m in found), f"{cmd!r}: expected {code} ({says!r}), got {found}"


def passes(cmd: str, policy: Policy | None = None) -> None:
    found = errors(exec_plan(cmd), policy)
    assert found == [], f"{cmd!r}: {found}"


# ---- the holes --------------------------------------------------------------------

NO_ID = Policy(exec=tuple(p for p in DEFAULT_EXEC if p != "id"))


def test_a_hash_inside_a_word_is_not_a_comment() -> None:
    assert read_command_line("echo x#; id").programs == ["id"]
    refused("echo x#; id", "E_EXEC_NOT_ALLOWED", NO_ID, "'id'")
    refused("echo a#b;nmap", "E_EXEC_NOT_ALLOWED")
    passes("ls # nmap would be a comment here")
    passes("ls\n# nmap")


@pytest.mark.parametrize("cmd", ["echo $(( $(id -u) ))", "echo $(( `id -u` + 1 ))", "echo $(( ${x:-$(id)} ))", "echo $((1) )"])
def test_arithmetic_holding_a_substitution_is_refused(cmd: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE")


def test_plain_arithmetic_passes() -> None:
    passes("n=3; echo $((n + 1)) $(( (2 * 3) % 4 ))")


@pytest.mark.parametrize(("cmd", "path"), [("/usr/bin/id", "/usr/bin/id"), ("./grep x f", "./grep"), ("bin/x", "bin/x"),
                                           ("~/x", "~/x"), ("ls | /bin/sh -c id", "/bin/sh"), ("find . -exec /usr/bin/id \\;", "/usr/bin/id"),
                                           ("xargs ./run", "./run"), ("timeout 5 /tmp/x", "/tmp/x")])
def test_a_program_given_by_a_path_is_refused_by_name(cmd: str, path: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE", says=path)


def test_an_argv_program_given_by_a_path_is_refused() -> None:
    found = errors('exec argv=["/usr/bin/id", "-u"]')
    assert any(c == "E_EXEC_UNCHECKABLE" and "/usr/bin/id" in m for c, m in found), found
    assert errors('exec argv=["id", "-u"]') == []
    assert ("E_EXEC_NOT_ALLOWED", "'nmap' is not on the exec allow-list; add it with --allow-exec nmap if it is safe") in \
        errors('exec argv=["xargs", "nmap"]')  # argv wrappers are read too
    assert any(c == "E_EXEC_UNCHECKABLE" for c, _ in errors('exec argv=["sort", "--compress-program=id", "f"]'))


@pytest.mark.parametrize("cmd", [
    "PATH=/workspace/bin grep x f", "PATH=/workspace/bin; grep x f", "export PATH=/workspace/bin; grep x f", "IFS=/; echo a",
    "LD_PRELOAD=/workspace/x.so ls", "export LD_LIBRARY_PATH=.", "BASH_ENV=/workspace/x ls", "ENV=/workspace/x", "SHELLOPTS=xtrace",
    "PS4='$(id)'", "export GIT_PAGER=id; git log", "TAR_OPTIONS=--to-command=id tar -xf a.tar", "LC_ALL=C sort f",
    "X=1 ls", ": ${PATH:=/workspace/bin}", "for PATH in /workspace/bin; do grep x f; done", "read -r PATH < f", "readonly IFS=x",
])
def test_risky_assignments_and_every_prefix_are_refused(cmd: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE")


@pytest.mark.parametrize("cmd", ["n=3; echo $n", "export LC_ALL=C; sort f", "while IFS= read -r line; do echo \"$line\"; done < f",
                                 "IFS=, read -r a b < f; echo $a", "x=$(wc -l < f); echo $x"])
def test_plain_assignments_pass(cmd: str) -> None:
    passes(cmd)


@pytest.mark.parametrize("cmd", ["env -i ls", "env -u HOME ls", "env -S 'ls -l'", "env X=1 ls", "env PATH=/x ls", "env -- ls"])
def test_env_with_options_or_assignments_is_refused(cmd: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE", says="env")


def test_env_and_the_wrappers_start_only_allowed_programs() -> None:
    passes("env ls")
    for cmd in ("env nmap", "timeout 5 nmap", "timeout -s KILL 5 nmap", "nice -n 5 nmap", "nohup nmap", "stdbuf -oL nmap",
                "command nmap", "exec nmap", "xargs -n 1 -P 2 nmap", "xargs -I {} nmap {}", "find . -exec nmap {} \\;",
                "find . -execdir nmap {} +", "find . -ok nmap {} \\;", "flock f nmap"):
        refused(cmd, "E_EXEC_NOT_ALLOWED", Policy().allowing_exec(("flock",)), "'nmap'")
    passes("xargs -I {} cp {} dst/", WRITES)
    passes("find . -name '*.py' | xargs -0 -n 1 wc -l")
    passes("command -v nmap")  # only looks the name up


@pytest.mark.parametrize(("cmd", "says"), [
    ("sort --compress-program=id f", "--compress-program"), ("sort --compress-prog id f", "--compress-program"),
    ("tar --checkpoint-action=exec=id -cf a.tar .", "--checkpoint-action"), ("tar -xf a.tar --to-command=id", "--to-command"),
    ("tar -I id -cf a.tar .", "-I"), ("tar --use-compress-program=id -cf a.tar .", "--use-compress-program"),
    ("tar -cf a.tar --info-script=x .", "--info-script"), ("tar -F x -cf a.tar .", "-F"), ("tar --new-volume-script=x -cf a.tar .", ""),
    ("tar cIf id a.tar .", "-I"), ("git -c core.pager=id log", "-c"), ("git --exec-path=/workspace log", "--exec-path"),
    ("git config core.pager id", "config"), ("git clone --upload-pack=id a b", "--upload-pack"), ("git clone -u id a b", "-u"),
    ("git push --receive-pack=id origin", "--receive-pack"), ("git log --ext-diff", "--ext-diff"), ("git grep -O x", "-O"),
    ("git rebase -x id main", "-x"), ("git frobnicate", "frobnicate"), ("git -p log", "pager"),
    ("awk 'BEGIN { system(\"id\") }'", "system()"), ("awk '{ print | \"sh\" }' f", "pipe"),
    ("awk 'BEGIN { \"id\" | getline x; print x }'", "pipe"), ("gawk 'BEGIN { print \"x\" |& \"sh\" }'", "pipe"),
    ("awk 'BEGIN { f = \"system\"; @f(\"id\") }'", "@"), ("awk -f prog.awk f", "-f"), ("awk \"$prog\" f", "run time"),
    ("sed 's/x/id/e' f", "e flag"), ("sed '1e id' f", "e command"), ("sed -n -e p -e 'e id' f", "e command"),
    ("sed -f script.sed f", "-f"), ("rg --pre id x .", "--pre"), ("zip -TT id a.zip f", "-TT"),
    ("zip --unzip-command=id -T a.zip f", "--unzip-command"), ("split --filter=id f", "--filter"),
    ("sqlite3 db '.shell id'", "sqlite3"),
])
def test_options_that_run_another_program_are_refused(cmd: str, says: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE", WRITES, says)


def test_sed_writes_only_where_writes_are_granted() -> None:
    refused("sed -n 'w out.txt' f", "E_PERMISSION_WRITE")
    refused("sed -n 's/a/b/w out.txt' f", "E_PERMISSION_WRITE")
    passes("sed -n 'w out/x.txt' f", Policy().granting_writes(("out",)))
    refused("sed -n 'w src/x.txt' f", "E_PERMISSION_WRITE", Policy().granting_writes(("out",)))
    passes("sed -n 's/a/b/w /dev/stdout' f")
    refused("awk '{ print > \"out.txt\" }' f", "E_PERMISSION_WRITE")
    passes("awk '{ print $1 > \"/dev/stderr\" }' f")


def test_pagers_and_shells_are_not_on_the_list_and_are_refused_if_added() -> None:
    assert "less" not in DEFAULT_EXEC
    refused("less f", "E_EXEC_NOT_ALLOWED")
    for tool in ("less", "sh", "bash", "watch", "script", "parallel", "busybox"):
        refused(f"{tool} x", "E_EXEC_UNCHECKABLE", Policy().allowing_exec((tool,)), tool)
    refused("flock f -c id", "E_EXEC_UNCHECKABLE", Policy().allowing_exec(("flock",)), "-c")


def test_an_interpreter_stays_allowed_its_code_confined_by_the_kernel() -> None:
    passes("python3 -c 'print(1)'")
    passes("timeout 5 python3 -c 'import sys; print(sys.argv)' a b")


@pytest.mark.parametrize("cmd", ["echo ${x:-$(nmap)}", "echo \"${x:-`nmap`}\"", "echo ${#x} ${x#$(nmap)}",
                                 "cat <<EOF\n$(nmap)\nEOF", "cat <<-EOF\n\t`nmap`\n\tEOF", "echo \"$(echo $(nmap))\""])
def test_substitutions_everywhere_are_read_as_commands(cmd: str) -> None:
    refused(cmd, "E_EXEC_NOT_ALLOWED", says="'nmap'")


def test_a_quoted_here_document_is_data() -> None:
    passes("cat <<'EOF'\n$(nmap)\nEOF")


@pytest.mark.parametrize("cmd", [
    "cat <(ls)", "diff <(sort a) <(sort b)", "ls > >(cat)", "case x in a) ls;; esac", "f() { ls; }; f", "function f { ls; }",
    "eval ls", ". ./x", "trap ls EXIT", "alias ls=id", "$cmd x", "\"$cmd\" x", "{id,}", "echo 'unterminated", "echo \"unterminated",
    "echo $(ls", "echo `ls", "cat <<EOF\nnever ended", "echo $'\\' ; nmap ; '", "[[ -f a ]]",
    "tar -czf a.tgz *", "sort \"$f\"", "sed -i 's/a/b/' \"$f\"", "find $dir -type f", "git log \"$rev\"",
    "echo x > \"$out\"", "echo x > $(echo f)", "echo " + "$(echo " * 40 + ")" * 40,
])
def test_what_cannot_be_read_is_refused(cmd: str) -> None:
    refused(cmd, "E_EXEC_UNCHECKABLE", WRITES)


def test_arguments_known_only_at_run_time_pass_where_they_cannot_be_options() -> None:
    passes("for f in ./*.txt; do sort \"$f\"; done")
    passes("for f in *.txt; do sort -- \"$f\"; done")
    passes("find \"$PWD\" -type f -name report.txt")
    passes("find . -name \"*.$ext\"")
    passes("tar -czf a.tgz -- *", WRITES)
    passes("for f in a.txt b/c.txt; do sort \"$f\" > \"out/$f\"; done", Policy().granting_writes(("out",)))


# ---- what the compiler emits --------------------------------------------------------


@pytest.mark.parametrize("index", range(len(LIBRARY)))
def test_every_worked_example_verifies(index: int) -> None:
    _, request, raw = LIBRARY[index]
    parsed = plan_from_json(raw)
    assert parsed.plan is not None, parsed.diagnostics
    skills = load_skills(skill_dirs()).skills
    found = [d for d in verify(parsed.plan, Policy(), skills=skills) if d.is_error]
    if found:  # an example that writes must verify once writes are granted, and say it writes
        assert {d.code for d in found} == {"E_PERMISSION_WRITE"}, (request, [str(d) for d in found])
        assert is_valid(verify(parsed.plan, WRITES, skills=skills)), (request, [str(d) for d in verify(parsed.plan, WRITES, skills=skills)])
        assert any(step_facts(s, skills).effects for s in parsed.plan.steps), request


def test_the_built_in_skills_still_validate() -> None:
    registry = load_skills(skill_dirs())
    assert registry.errors == [], [str(e) for e in registry.errors]
    assert registry.skills


@pytest.mark.parametrize(("cmd", "programs", "writes"), [
    ("echo x#; id", ["id"], False),
    ("tar -tzf a.tgz", ["tar", "gzip"], False),
    ("tar -czf a.tgz src", ["tar", "gzip"], True),
    ("xargs -I {} cp {} dst/", ["xargs", "cp"], True),
    ("git status --short", ["git"], False),
    ("git add -u", ["git"], True),
    ("find . -type f | xargs -n1 basename", ["find", "xargs", "basename"], False),
    ("sed -n '/start/,/end/{p;=}' f", ["sed"], False),
    ("awk -v F=\"$f\" '/x|y/ && $1 ~ /^[a/]+$/ { n++ } END { print n / 2 }' f", ["awk"], False),
    ("ls | xargs", ["ls", "xargs", "echo"], False),
])
def test_common_shapes_read_precisely(cmd: str, programs: list[str], writes: bool) -> None:
    line = read_command_line(cmd)
    assert (line.programs, line.writes, line.problems) == (programs, writes, [])


# ---- bad input --------------------------------------------------------------------


def policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "key", "wants"), [
    ("budgets: {steps: x}", "budgets.steps", "whole number >= 1"),
    ("budgets: {steps: -1}", "budgets.steps", "whole number >= 1"),
    ("budgets: {steps: true}", "budgets.steps", "whole number"),
    ("budgets: {step_timeout: 0}", "budgets.step_timeout", "number > 0"),
    ("budgets: {run_timeout: .nan}", "budgets.run_timeout", "number > 0"),
    ("budgets: {output_bytes: 1.5}", "budgets.output_bytes", "whole number >= 1"),
    ("budgets: {trace_output_bytes: -5}", "budgets.trace_output_bytes", ">= 0"),
    ("write: ['/etc']", "'write' root '/etc'", "relative"),
    ("read: ['../secrets']", "'read' root '../secrets'", ".."),
    ("write: ['out/../../x']", "'write' root", ".."),
    ("exec: ['/bin/sh']", "'exec' entry '/bin/sh'", "names"),
    ("exec: ['grep -r']", "'exec' entry 'grep -r'", "whitespace"),
    ("exec: ['']", "'exec' entry ''", "non-empty"),
    ("exec: [grep, 3]", "'exec'", "strings"),
    ("1: x", "unknown key '1'", ""),
    ("[" * 10_000, "cannot read", ""),
])
def test_a_bad_policy_file_names_the_file_the_key_and_what_it_wants(tmp_path: Path, text: str, key: str, wants: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_file(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "policy.yaml")) and key in message and wants in message, message


def test_a_good_policy_file_loads_and_unknown_tools_are_fine(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, "write: [out, '.']\nexec: [grep, my-tool]\nbudgets: {steps: 3, step_timeout: 1.5}"))
    assert policy.exec == ("grep", "my-tool") and policy.budgets.steps == 3 and validate_policy(policy) == []


def test_validate_policy_judges_policies_built_in_code() -> None:
    assert validate_policy(Policy()) == []
    assert validate_policy(WRITES) == []
    assert any("'write' root '/etc'" in p for p in validate_policy(Policy().granting_writes(("/etc",))))
    assert any("'exec' entry './x'" in p for p in validate_policy(Policy().allowing_exec(("./x",))))


@pytest.mark.parametrize(("source", "code", "line"), [
    ("[" * 100_000, "E_JSON", 1),
    ('{"steps": [{"op": "read", "args": {"path": ' + "[" * 50_000, "E_JSON", 1),
    ('read "a"\nread ' + "[" * 100_000, "E_SYNTAX", 2),
    (b'read "ok"\nread "caf\xe9"\n', "E_ENCODING", 2),
    ('read "a\udcff"', "E_ENCODING", 1),
    ('read "\\udcff"', "E_ENCODING", 1),
])
def test_bad_plans_are_located_diagnostics(source: str | bytes, code: str, line: int) -> None:
    parsed = parse_plan(source)
    assert parsed.plan is None and parsed.diagnostics[0].code == code and parsed.diagnostics[0].line == line, parsed.diagnostics


def test_a_surrogate_in_a_json_path_operand_names_the_step() -> None:
    parsed = parse_plan('{"steps": [{"id": "s1", "op": "read", "args": {"path": "a\\udcff"}}]}')
    assert parsed.plan is None and [(d.code, d.step) for d in parsed.diagnostics] == [("E_ENCODING", "s1")]


def test_the_verifier_never_raises_even_on_plans_built_in_code() -> None:
    odd: object = {"not": "a value"}
    plans = [
        Plan((Step("s1", "exec", {"cmd": "ls", "timeout": odd}),)),  # type: ignore[dict-item]
        Plan((Step("s1", "read", {"path": odd}),)),  # type: ignore[dict-item]
        Plan((Step("s1", "exec", {"argv": ["ls", odd]}),)),  # type: ignore[list-item]
        Plan((Step("s1", "grep", {"pattern": "x", "paths": [[["a"]]]}),)),
        Plan((Step("s1", "exec", {"cmd": "x" * 1_000_000}),)),
        Plan((Step("s1", "call", {"skill": SlotRef("x")}),)),
    ]
    for plan in plans:
        diagnostics = verify(plan, Policy())
        assert diagnostics and not is_valid(diagnostics), plan
        assert all(isinstance(d.message, str) for d in diagnostics)
        step_facts(plan.steps[0])


@pytest.mark.parametrize(("content", "command", "code"), [
    ("[" * 100_000, "verify", 3), (b"read \xff\xfe", "verify", 3), ('{"steps": [{"op": "read", "args": {"path": "\\udcff"}}]}', "verify", 3),
    ('exec "echo $(( $(id -u) ))"', "verify", 3), ("[" * 100_000, "run", 3), (b"read \xff\xfe", "run", 3),
])
def test_the_cli_exits_with_the_verifiers_code_on_bad_plans(tmp_path: Path, content: str | bytes, command: str, code: int) -> None:
    path = tmp_path / "plan.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogateescape")
    done = subprocess.run([sys.executable, "-m", "babel.cli", command, str(path), *(["--root", str(tmp_path)] if command == "run" else [])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_the_cli_refuses_a_bad_policy_as_a_usage_error(tmp_path: Path) -> None:
    plan = tmp_path / "p.plan"
    plan.write_text('read "a"\n')
    policy = policy_file(tmp_path, "budgets: {steps: x}\n")
    done = subprocess.run([sys.executable, "-m", "babel.cli", "verify", str(plan), "--policy", str(policy)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "budgets.steps" in done.stderr, done.stderr


# ---- the reader never raises --------------------------------------------------------

SHELLISH = ["$(", ")", "`", "'", '"', "${", "}", "$((", "))", "<<", "<<-", "EOF\n", "EOF", "|", "||", ";", ";;", "&&", "&", "<(", ">(",
            ">", ">>", "2>&1", "<", "<>", "#", "\\", "\n", " ", "ls", "awk", "'{print | \"id\"}'", "sed", "s/a/b/e", "'s/[/]/x/w f'",
            "find", "-exec", "\\;", "+", "{}", "xargs", "-I", "env", "-i", "PATH=x", "X=1", "case", "esac", "in", "for", "do", "done",
            "if", "then", "fi", "tar", "-I", "--to-command=x", "git", "-c", "config", "$x", "\"$x\"", "*", "=", "$'", "-", "--", "@",
            "/", "[", "]", "[[", "]]", "{", "(", "!", "timeout", "5", "export", "read", "eval", "sort", "-o", "f()", "$((1+", "\t"]


def test_the_reader_never_raises_on_random_input() -> None:
    rng = random.Random(20240601)
    printable = [chr(c) for c in range(32, 127)] + ["\n", "\t", "é", "\u00a0", "\udc80"]
    for _ in range(3000):
        for cmd in ("".join(rng.choice(printable) for _ in range(rng.randint(0, 120))),
                    " ".join(rng.choice(SHELLISH) for _ in range(rng.randint(0, 60))),
                    "".join(rng.choice(SHELLISH) for _ in range(rng.randint(0, 60)))):
            line = read_command_line(cmd)
            assert isinstance(line, CommandLine)
            assert not any(p.startswith("cannot read the command line (") for p in line.problems), (cmd, line.problems)


def test_the_reader_never_raises_on_deep_or_long_input() -> None:
    for cmd in ("$(" * 10_000, "${x:-" * 10_000, "`" * 10_001, "(" * 50_000, "$((" * 5_000, "<<E\n" * 5_000, "xargs " * 5_000 + "ls",
                "a|" * 30_000, "x" * 300_000, "\\" * 10_001, '"$(' * 5_000):
        line = read_command_line(cmd)
        assert isinstance(line, CommandLine)
        assert not any(p.startswith("cannot read the command line (") for p in line.problems), line.problems[:3]


def test_read_argv_never_raises() -> None:
    rng = random.Random(7)
    for _ in range(500):
        argv: list[str | None] = [rng.choice([*SHELLISH, None]) for _ in range(rng.randint(1, 12))]
        assert isinstance(read_argv(argv), CommandLine)


def test_parse_and_verify_never_raise_on_plan_soup() -> None:
    rng = random.Random(11)
    soup = ["s1:", "x", "=", "exec", "read", "grep", "write", "call", '"a"', "'b'", "[", "]", ",", "$x", "1", "-3", "true", "cmd=", "argv=",
            "paths=", "\n", "#", "result", '"$(id)"', '"\\udcff"', "{", "}", '"steps"', ":", "timeout=", "99999999999999999999"]
    for _ in range(1500):
        source = " ".join(rng.choice(soup) for _ in range(rng.randint(0, 40)))
        parsed = parse_plan(source)
        if parsed.plan is not None:
            verify(parsed.plan, Policy())
            for step in parsed.plan.steps:
                step_facts(step)
