"""The LPU's assembly language in Babel: assembler, bytecode, checks, and runs.

The reference bytes in tests/lpu/*.lpu were written by the LPU's own assembler
(github.com/HuyNguyenAu/llm_native_virtual_machine at aee47fe, src/assembler built with
rustc 1.95 outside this repository) from the programs beside them, which are Babel's own.
The runs with model ops replay the embedded model's answers recorded in
tests/cassettes/lpu.json (re-record: BABEL_RECORD=1 python -m pytest tests/test_lpu.py).
The LPU's own four examples are run when BABEL_LPU_REPO names a checkout of its repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from babel.app import load_program, run_program
from babel.lang import lpu, parse_asm, to_asm
from babel.model import CassetteClient, ModelClient, ModelPool
from babel.verify import check_lpu
from babel.vm import ALU, Memo, run_lpu
from tests.conftest import cassette_client, make_files

HERE = Path(__file__).parent / "lpu"
CASSETTE = Path(__file__).parent / "cassettes" / "lpu.json"
PROGRAMS = ["every-op", "countdown", "ticket", "similar"]

#: sha256 of the bytes the LPU's own assembler writes for its four examples (at aee47fe)
LPU_EXAMPLES = {
    "customer-claim": "a413817b3c3fe79b423379fb4b75cca2bc7aa7f3fecabdfd191c35c101ffcde4",
    "content-moderation": "4057e211eb82583183ea49aecedea5e2961243d4e314e92482f77885cc93877d",
    "legal-compliance": "52518b7a66d72b38575282a12869d30976fa66e668b1497c98d5249e7e69c9cc",
    "room-comfort": "3d4c7901fb1dc3369169e5c8044c94dda35c8697d13be601547f7becb30bbbbe",
}


def program(text: str) -> lpu.LpuProgram:
    parsed = parse_asm(text)
    assert parsed.program is not None, [str(d) for d in parsed.diagnostics]
    return parsed.program


def babel(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment.pop("BABEL_RECORD", None)  # the commands replay; only this file's own client records
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=environment)


# ---- the assembler and the bytecode ------------------------------------------------


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_assembler_writes_the_bytes_the_lpus_own_assembler_writes(name: str) -> None:
    assert lpu.encode(program((HERE / f"{name}.aasm").read_text())) == (HERE / f"{name}.lpu").read_bytes()


@pytest.mark.parametrize("name", PROGRAMS)
def test_disassembling_then_assembling_gives_the_same_bytes(name: str) -> None:
    blob = (HERE / f"{name}.lpu").read_bytes()
    decoded = lpu.decode(blob)
    assert decoded.program is not None, decoded.diagnostics
    assert lpu.encode(program(to_asm(decoded.program))) == blob


def test_the_format_details_follow_the_lpus_assembler() -> None:
    every = program((HERE / "every-op.aasm").read_text())
    first = every.instrs[0]
    assert first.op == "LS" and first.operands[1].value == 'a "quoted" word\nand a second line'  # only \n and \" are escapes
    assert {i.op for i in every.instrs} == set(lpu.OPCODES)  # mnemonics are case-insensitive
    assert every.instrs[7].operands[0].value == 3  # X03 is X3
    words = [int.from_bytes(blob[i:i + 4], "big") for blob in [lpu.encode(every)] for i in range(0, len(blob), 4)]
    assert words[0] == 2 and words[1] == 2 + 4 * len(every.instrs)
    assert words[2 + 4 * 4:2 + 4 * 5] == [0x04, 3, 4, 2]  # BEQ X3, X4, start: the label is the absolute word index


def test_cli_asm_and_dis_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "t.lpu"
    done = babel("asm", str(HERE / "ticket.aasm"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (HERE / "ticket.lpu").read_bytes()
    text = babel("lpu", "dis", str(out))
    assert text.returncode == 0 and "EVAL X3, X2, C1" in text.stdout
    (tmp_path / "t.aasm").write_text(text.stdout)
    again = babel("asm", str(tmp_path / "t.aasm"))  # default output: beside the input
    assert again.returncode == 0 and (tmp_path / "t.lpu").read_bytes() == out.read_bytes()


@pytest.mark.parametrize("blob, says", [
    (b"", "no header"),
    (b"\x00\x00\x00\x02\x00\x00", "not a whole number"),
    (b"\x00\x00\x00\x07\x00\x00\x00\x02", "header size is 7"),
    (b"\x00\x00\x00\x02\x00\x00\x00\x06" + b"\x00\x00\x00\x2a" + b"\x00" * 12, "unknown opcode 0x2A"),
    (b"\x00\x00\x00\x02\x00\x00\x00\x06" + b"\x00\x00\x00\x0b\x00\x00\x00\x40" + b"\x00" * 8, "register 64 is out of range"),
    (b"\x00\x00\x00\x02\x00\x00\x00\x06" + b"\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00\x00\x00", "outside the data segment"),
    (b"\x00\x00\x00\x02\x00\x00\x00\x06" + b"\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x03", "no instruction's start"),
    ((HERE / "ticket.lpu").read_bytes()[:-8], "no end"),
])
def test_bad_bytecode_is_a_diagnostic_never_an_exception(blob: bytes, says: str) -> None:
    decoded = lpu.decode(blob)
    assert decoded.program is None and len(decoded.diagnostics) == 1
    assert decoded.diagnostics[0].code == "E_LPU_BYTECODE" and says in decoded.diagnostics[0].message


def test_cli_says_what_is_wrong_with_a_file_and_exits_2_or_3(tmp_path: Path) -> None:
    cut = tmp_path / "cut.lpu"
    cut.write_bytes((HERE / "ticket.lpu").read_bytes()[:101])
    done = babel("lpu", "dis", str(cut))
    assert done.returncode == 3 and f"{cut}: error:" in done.stderr and "Traceback" not in done.stderr
    missing = babel("lpu", "run", str(tmp_path / "nope.aasm"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    binary = tmp_path / "bin.aasm"
    binary.write_bytes(b"LS X1, \"\xff\"\n")
    assert babel("asm", str(binary)).returncode == 3


# ---- the checks, each with its line and column --------------------------------------

BAD = [
    ("write to X0", 'LS X0, "a"\nEXIT\n', "E_LPU_WRITE_ZERO", 1, 4),
    ("write to C0", 'LS X1, "a"\nPSH C0, X1, "user"\nEXIT\n', "E_LPU_WRITE_ZERO", 2, 5),
    ("empty register", 'LS X1, "a"\nBEQ X1, X1, SKIP\nLS X2, "b"\nSKIP:\nPLN X2\nEXIT\n', "E_LPU_EMPTY", 5, 5),
    ("empty on one path", 'LI X1, 1\nLI X2, 2\nBLT X1, X2, SKIP\nLS X3, "b"\nSKIP:\nPLN X3\nEXIT\n', "E_LPU_EMPTY", 6, 5),
    ("empty context", 'LS X1, "a"\nPOP X2, C4\nEXIT\n', "E_LPU_EMPTY", 2, 9),
    ("text in a branch", 'LS X1, "5"\nLI X2, 5\nBEQ X1, X2, END\nEND:\nEXIT\n', "E_LPU_TYPE", 3, 5),
    ("number as a prompt", 'LI X1, 5\nINF X2, X1, C0\nEXIT\n', "E_LPU_TYPE", 2, 9),
    ("SUBI below zero", 'LI X1, 1\nSUBI X1, 2\nEXIT\n', "E_LPU_SUBI_NEGATIVE", 2, 6),
    ("SUBI past a loop's test", 'LI X1, 3\nLI X0, 0\nLOOP:\nSUBI X1, 1\nLI X2, 1\nBGE X1, X2, LOOP\nSUBI X1, 1\nEXIT\n', "E_LPU_SUBI_NEGATIVE", 7, 6),
    ("label at the end", 'LI X1, 1\nEND:\n', "E_LPU_LABEL_AT_END", 2, 1),
    ("label ends the file", 'LI X1, 1\nEND:', "E_LPU_LABEL_AT_END", 2, 5),
    ("undefined label", 'LI X1, 1\nBEQ X1, X1, NOWHERE\nEXIT\n', "E_LPU_LABEL_UNDEFINED", 2, 13),
    ("duplicate label", 'A:\nLI X1, 1\nA:\nEXIT\n', "E_LPU_LABEL_DUPLICATE", 3, 1),
    ("loop with no bound", 'LI X1, 1\nLS X2, "again"\nLOOP:\nPLN X2\nBEQ X1, X1, LOOP\n', "E_LPU_LOOP_UNBOUNDED", 5, 1),
    ("counter reset in the loop", 'LI X1, 3\nLI X2, 0\nLOOP:\nLI X1, 3\nSUBI X1, 1\nBGT X1, X2, LOOP\nEXIT\n', "E_LPU_LOOP_UNBOUNDED", 6, 1),
    ("LC outside the root", 'LC X1, "/etc/passwd"\nPLN X1\n', "E_PATH_OUTSIDE_ROOT", 1, 8),
    ("LC up and out", 'LC X1, "../secret.txt"\nPLN X1\n', "E_PATH_OUTSIDE_ROOT", 1, 8),
    ("unknown mnemonic", 'LI X1, 1\nJMP X1\n', "E_LPU_MNEMONIC", 2, 1),
    ("bad register", 'LI X33, 1\n', "E_LPU_OPERAND", 1, 4),
    ("context where text goes", 'LS C1, "a"\n', "E_LPU_OPERAND", 1, 4),
    ("missing comma", 'LI X1 1\n', "E_LPU_OPERAND", 1, 7),
    ("fraction", 'LI X1, 1.5\n', "E_LPU_OPERAND", 1, 8),
    ("bad role", 'LS X1, "a"\nPSH C1, X1, "system"\n', "E_LPU_OPERAND", 2, 13),
    ("assistant first", 'LS X1, "a"\nPSH C1, X1, "assistant"\nINF X2, X1, C1\nEXIT\n', "E_LPU_ROLE_ORDER", 3, 13),
    ("unterminated string", 'LS X1, "a\n', "E_LPU_SYNTAX", 1, 8),
    ("character after a label", 'A:; the LPU swallows the ;\nLI X1, 1\nEXIT\n', "E_LPU_SYNTAX", 1, 3),
]


def _diagnostics(text: str) -> list[Any]:
    parsed = parse_asm(text)
    return list(parsed.diagnostics) if parsed.program is None else check_lpu(parsed.program)


@pytest.mark.parametrize("why, text, code, line, column", BAD, ids=[b[0] for b in BAD])
def test_the_checks_find_before_running_what_the_lpu_finds_at_run_time(why: str, text: str, code: str, line: int, column: int) -> None:
    found = [(d.code, d.line, d.column) for d in _diagnostics(text) if d.is_error]
    assert (code, line, column) in found, found


@pytest.mark.parametrize("name", PROGRAMS[1:])
def test_programs_that_are_right_pass_the_checks(name: str) -> None:
    assert [str(d) for d in check_lpu(program((HERE / f"{name}.aasm").read_text()))] == []


def test_a_bounded_retry_loop_passes_and_its_counter_is_known_not_to_go_below_zero() -> None:
    assert [d.code for d in check_lpu(program('LI X1, 5\nLI X2, 0\nR:\nSUBI X1, 1\nBEQ X1, X2, OUT\nLS X3, "x"\nBEQ X2, X2, R\n'
                                              'OUT:\nEXIT\n'))] == []


def test_cli_check_prints_file_line_column_and_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.aasm"
    bad.write_text('LS X1, "a"\nLI X2, 0\nBEQ X1, X2, END\nEND:\nEXIT\n')
    done = babel("lpu", "check", str(bad))
    assert done.returncode == 3, done.stderr
    assert f"{bad}:3:5: error: BEQ needs a number in X1" in done.stderr and "[E_LPU_TYPE]" in done.stderr
    run = babel("lpu", "run", str(bad))
    assert run.returncode == 3 and "was not run" in run.stderr and "Traceback" not in run.stderr


# ---- runs ---------------------------------------------------------------------------


def client() -> ModelClient:
    return cassette_client(CASSETTE)


def test_a_program_without_model_ops_or_files_runs_without_either() -> None:
    printed: list[str] = []
    run = run_lpu(program((HERE / "countdown.aasm").read_text()), None, write=printed.append)
    assert run.ok and run.output == "3\n2\n1\nlift-off\n" and "".join(printed) == run.output
    assert run.model_calls == 0 and [s.op for s in run.steps[:4]] == ["li", "li", "ls", "pln"]


def test_a_failing_instruction_stops_the_run_with_its_line() -> None:
    run = run_lpu(program('LS X1, "a"\nLC X2, "x.txt"\nPLN X2\n'), None)
    assert not run.ok and run.at == "L2" and run.failure == "sandbox_error"
    fuel = run_lpu(program((HERE / "countdown.aasm").read_text()), None, fuel=5)
    assert not fuel.ok and fuel.failure == "loop_bound"


def test_model_ops_without_a_model_fail_with_model_error() -> None:
    run = run_lpu(program('LS X1, "hi"\nINF X2, X1, C0\nEXIT\n'), None)
    assert not run.ok and run.failure == "model_error" and run.at == "L2"


def _ticket(workspace: Path, memo: Memo, model: ModelClient) -> Any:
    make_files(workspace, {"tests/lpu/data/ticket.txt": (HERE / "data" / "ticket.txt").read_text()})
    source = load_program((HERE / "ticket.aasm").read_bytes(), "ticket.aasm")
    return run_program(source, workspace, model=lambda: model, memo=memo)


def test_a_program_reads_through_the_sandbox_and_asks_the_model_and_a_rerun_replays(docker_ready: None, workspace: Path,
                                                                                    tmp_path: Path) -> None:
    memo = Memo(tmp_path / "memo.sqlite")
    outcome = _ticket(workspace, memo, client())
    run = outcome.run
    assert run is not None and run.ok, (outcome.diagnostics, run and run.message)
    assert run.output.startswith("QUEUE: billing\n") and "INV-2044" in run.output
    assert '[{"role":"user","content":' in run.output  # PCX prints the context as the LPU does (compact JSON)
    evals = [s for s in run.steps if s.op == "eval"]
    assert evals and all(s.output in ("0", "100") and 0.5 <= s.detail["confidence"] <= 1 for s in evals)
    infs = [s for s in run.steps if s.op == "inf"]
    assert infs and "\n" not in infs[0].output and infs[0].detail["tokens_out"] > 0 and infs[0].detail["memo"] == "miss"
    assert run.model_calls == len(evals) + len(infs) - run.memo_hits

    class NoModel(CassetteClient):
        def submit(self, requests: Any) -> Any:
            raise AssertionError("a rerun must replay from the memo")

    again = _ticket(workspace, Memo(tmp_path / "memo.sqlite"), NoModel(CASSETTE))
    assert again.run is not None and again.run.ok and again.run.output == run.output and again.run.model_calls == 0


def test_sim_gives_a_number_from_0_to_100_by_the_models_choice() -> None:
    run = run_lpu(program((HERE / "similar.aasm").read_text()), None, alu=ALU(client(), Memo()))
    assert run.ok, run.message
    sim = next(s for s in run.steps if s.op == "sim")
    assert 0 <= int(sim.output) <= 100 and run.output.startswith(f"similarity: {sim.output}\n")
    assert run.output.endswith("close\n" if int(sim.output) >= 50 else "far\n")


def test_every_model_op_can_be_its_own_uncached_call_the_lpus_way() -> None:
    text = 'LS X1, "same question?"\nEVAL X2, X1, C0\nEVAL X3, X1, C0\nEXIT\n'
    shared = run_lpu(program(text), None, alu=ALU(client(), Memo()))
    fresh = run_lpu(program(text), None, alu=lambda: ALU(client(), Memo()))
    assert shared.ok and (shared.model_calls, shared.memo_hits) == (1, 1)  # the second is the first's answer, replayed
    assert fresh.ok and (fresh.model_calls, fresh.memo_hits) == (2, 0) and fresh.registers[2] == fresh.registers[3]


def test_babel_lpu_run_traces_the_run_for_babel_logs(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"tests/lpu/data/ticket.txt": (HERE / "data" / "ticket.txt").read_text()})
    env = {"BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE), "BABEL_STATE_DIR": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = babel("lpu", "run", str(HERE / "ticket.aasm"), "--root", str(workspace), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("QUEUE: billing\n") and "model calls" in done.stderr
    logs = babel("logs", "last", env=env)
    assert logs.returncode == 0 and "eval" in logs.stdout + logs.stderr and "inf" in logs.stdout + logs.stderr
    assert (tmp_path / "state" / "model-ops.sqlite").is_file()
    again = babel("lpu", "run", str(HERE / "ticket.aasm"), "--root", str(workspace), "--json", env=env)
    summary = json.loads(again.stdout.splitlines()[-1])
    assert again.returncode == 0 and summary["status"] == "ok" and summary["model_calls"] == 0 and summary["memo_hits"] >= 2


@pytest.mark.model
def test_an_lpu_program_runs_end_to_end_with_the_embedded_model(tmp_path: Path) -> None:
    from babel.model import load_config, make_client

    model = make_client(load_config({"model": "qwen2.5-coder-1.5b"}), pool=ModelPool())
    text = ('LS X1, "The parcel arrived crushed and the vase inside is broken."\nPSH C1, X1, "user"\n'
            'LS X2, "Is the customer saying the item arrived damaged?"\nEVAL X3, X2, C1\nLI X4, 100\nBEQ X3, X4, YES\n'
            'LS X5, "not damaged"\nPLN X5\nEXIT\nYES:\nLS X5, "damaged"\nPLN X5\n'
            'LS X2, "In at most five words, what is broken?"\nINF X6, X2, C1\nPLN X6\nEXIT\n')
    run = run_lpu(program(text), None, alu=ALU(model, Memo()))
    assert run.ok, run.message
    assert run.output.startswith("damaged\n") and "vase" in run.output.lower()


# ---- the LPU's own examples, when its repository is here ------------------------------

LPU_REPO = os.environ.get("BABEL_LPU_REPO")


@pytest.mark.skipif(not LPU_REPO, reason="BABEL_LPU_REPO does not name a checkout of HuyNguyenAu/llm_native_virtual_machine "
                                        "(CI has no internet; its examples are not copied here: it has no licence)")
@pytest.mark.parametrize("name", sorted(LPU_EXAMPLES))
def test_the_lpus_own_examples_assemble_byte_for_byte(name: str) -> None:
    source = Path(LPU_REPO or ".") / "examples" / f"{name}.aasm"
    blob = lpu.encode(program(source.read_text()))
    assert hashlib.sha256(blob).hexdigest() == LPU_EXAMPLES[name]
    decoded = lpu.decode(blob)
    assert decoded.program is not None and lpu.encode(program(to_asm(decoded.program))) == blob
    assert [str(d) for d in check_lpu(program(source.read_text()))] == []  # they pass the checks unchanged
    reference = os.environ.get("BABEL_LPU_ASM")  # the LPU's own assembler, if built: compare with it directly
    if reference:
        out = Path(os.environ.get("TMPDIR", "/tmp")) / f"babel-lpu-{name}.lpu"
        subprocess.run([reference, str(source), str(out)], check=True, timeout=60)
        assert out.read_bytes() == blob


@pytest.mark.model
@pytest.mark.skipif(not LPU_REPO, reason="BABEL_LPU_REPO does not name a checkout of the LPU's repository")
@pytest.mark.parametrize("name", sorted(LPU_EXAMPLES))
def test_the_lpus_own_examples_pass_the_checks_and_run_to_completion(docker_ready: None, name: str, tmp_path: Path) -> None:
    repo = Path(LPU_REPO or ".").resolve()
    done = babel("lpu", "run", str(repo / "examples" / f"{name}.aasm"), cwd=repo, timeout=1800,
                 env={"BABEL_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "ok in" in done.stderr
