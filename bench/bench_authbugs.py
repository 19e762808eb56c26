"""Score an auth-bug detector on the planted-bug suite in bench/authbugs/.

For each service of a split, the service directory is copied into a fresh temp dir, the
detector command runs there (its working directory is the copy), and every stdout line
that starts with `path:line` is a finding. A service's planted bug is *found* when a
finding names the bug's file and a line inside its region; every other reported location
is a *false report*. bench/authbugs/README.md gives the rules in full.

    python bench/bench_authbugs.py --split dev
    python bench/bench_authbugs.py --split all --command 'babel skill run find-auth-bug --root .'
    python bench/bench_authbugs.py --split heldout --json > heldout.jsonl

Exit status 0 whatever the score (2 for a usage error or a broken truth file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUITE = Path(__file__).resolve().parent / "authbugs"
REPO = SUITE.parent.parent
SPLITS = ("dev", "heldout")
SANDBOX_UID = 1000
DEFAULT_REQUEST = "find auth bug"

# A finding: a line that starts with path:line (path without whitespace, optionally ./ or
# an absolute workspace prefix, stripped later); whatever follows is the reason.
FINDING = re.compile(r"^\s*(?P<path>[\w.@+~/-]+):(?P<line>\d+)(?=$|[:\s,\])-])")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class TruthError(ValueError):
    """A truth file that does not describe its service correctly."""


@dataclass(frozen=True)
class Region:
    file: str
    start: int
    end: int
    kind: str

    def holds(self, path: str, line: int) -> bool:
        return path == self.file and self.start <= line <= self.end


@dataclass
class Truth:
    service: str
    split: str
    language: str
    bug: Region
    bug_line: int
    lookalikes: list[Region]
    root: Path

    @property
    def regions(self) -> list[Region]:
        return [self.bug, *self.lookalikes]


@dataclass
class Score:
    found: bool
    true_reports: int
    false_reports: int
    lookalikes_reported: list[Region] = field(default_factory=list)
    outside: list[tuple[str, int]] = field(default_factory=list)


# ---------------------------------------------------------------- truth files


def _region(raw: Any, where: str) -> Region:
    if not isinstance(raw, dict):
        raise TruthError(f"{where}: expected a mapping")
    lines = raw.get("lines")
    if not (isinstance(lines, list) and len(lines) == 2 and all(isinstance(n, int) for n in lines)):
        raise TruthError(f"{where}: lines must be [start, end]")
    if not isinstance(raw.get("file"), str) or not raw["file"]:
        raise TruthError(f"{where}: file is required")
    if lines[0] < 1 or lines[1] < lines[0]:
        raise TruthError(f"{where}: bad line range {lines}")
    return Region(raw["file"], lines[0], lines[1], str(raw.get("kind", "")))


def load_truth(path: Path, check_files: bool = True) -> Truth:
    """Read and check one <service>.truth.yaml (the service is the sibling directory)."""
    raw = yaml.safe_load(path.read_text())
    name = path.name[: -len(".truth.yaml")]
    root = path.parent / name
    if not isinstance(raw, dict) or "bug" not in raw:
        raise TruthError(f"{path}: no bug")
    bug = _region(raw["bug"], f"{path}: bug")
    line = raw["bug"].get("line")
    if not isinstance(line, int) or not bug.start <= line <= bug.end:
        raise TruthError(f"{path}: bug.line {line!r} is not inside bug.lines")
    if not raw["bug"].get("kind"):
        raise TruthError(f"{path}: bug.kind is required")
    looks = [_region(item, f"{path}: lookalike {i}") for i, item in enumerate(raw.get("lookalikes") or [])]
    truth = Truth(name, path.parent.name, str(raw.get("language", "")), bug, line, looks, root)
    regions = truth.regions
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            if a.file == b.file and a.start <= b.end and b.start <= a.end:
                raise TruthError(f"{path}: regions overlap: {a.file}:{a.start}-{a.end} and {b.start}-{b.end}")
    if check_files:
        if not root.is_dir():
            raise TruthError(f"{path}: no service directory {root}")
        for r in regions:
            file = root / r.file
            if not file.is_file():
                raise TruthError(f"{path}: {r.file} does not exist")
            count = len(file.read_text().splitlines())
            if r.end > count:
                raise TruthError(f"{path}: {r.file}:{r.start}-{r.end} runs past the end ({count} lines)")
    return truth


def load_split(split: str, only: str | None = None) -> list[Truth]:
    splits = SPLITS if split == "all" else (split,)
    truths = []
    for name in splits:
        for path in sorted((SUITE / name).glob("*.truth.yaml")):
            if only is None or only in path.name:
                truths.append(load_truth(path))
    return truths


# ---------------------------------------------------------------- findings and scoring


def normalise_path(path: str, prefixes: tuple[str, ...] = ()) -> str:
    """A reported path relative to the service root: drop ./ and known absolute roots."""
    for prefix in sorted((p.rstrip("/") + "/" for p in prefixes if p), key=len, reverse=True):
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    while path.startswith("./"):
        path = path[2:]
    return path


def parse_findings(text: str, prefixes: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """The distinct (path, line) locations named at the start of stdout lines, in order."""
    seen: dict[tuple[str, int], None] = {}
    for raw in text.splitlines():
        match = FINDING.match(ANSI.sub("", raw))
        if not match or match["path"].isdigit():
            continue
        path = normalise_path(match["path"], prefixes)
        if path:
            seen.setdefault((path, int(match["line"])), None)
    return list(seen)


def score(truth: Truth, findings: list[tuple[str, int]]) -> Score:
    """Found: a finding inside the bug region. False reports: each look-alike region
    reported (once, however many of its lines), plus each distinct line in no region."""
    found = False
    looks: dict[int, Region] = {}
    outside: dict[tuple[str, int], None] = {}
    for path, line in findings:
        if truth.bug.holds(path, line):
            found = True
            continue
        hit = next((i for i, r in enumerate(truth.lookalikes) if r.holds(path, line)), None)
        if hit is not None:
            looks.setdefault(hit, truth.lookalikes[hit])
        else:
            outside.setdefault((path, line), None)
    ordered = [looks[i] for i in sorted(looks)]
    return Score(found, int(found), len(ordered) + len(outside), ordered, list(outside))


def totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    found = sum(1 for r in records if r["found"])
    true = sum(r["true_reports"] for r in records)
    false = sum(r["false_reports"] for r in records)
    looks = sum(len(r["lookalikes_reported"]) for r in records)
    look_total = sum(r["lookalikes_total"] for r in records)
    return {
        "services": n,
        "found": found,
        "recall": found / n if n else None,
        "true_reports": true,
        "false_reports": false,
        "precision": true / (true + false) if true + false else None,
        "lookalikes_reported": looks,
        "lookalikes_total": look_total,
        "errors": sum(1 for r in records if r["error"]),
        "wall_s": round(sum(r["wall_s"] for r in records), 1),
    }


# ---------------------------------------------------------------- running a detector


def default_command() -> str:
    venv = REPO / ".venv" / "bin" / "babel"
    if venv.exists():
        return f"{shlex.quote(str(venv))} do {shlex.quote(DEFAULT_REQUEST)}"
    return f"{shlex.quote(sys.executable)} -m babel.cli do {shlex.quote(DEFAULT_REQUEST)}"


def _give_to_sandbox_user(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
        if os.geteuid() == 0:
            os.chown(dirpath, SANDBOX_UID, SANDBOX_UID)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)


def run_command(command: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, str, int | None, str | None]:
    """Run through bash in cwd; (stdout, stderr, exit code or None, error or None)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            return "", "", None, f"could not start: {exc}"
        error = None
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            code, error = None, f"timed out after {timeout:g} s"
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if error is None and code != 0:
        tail = stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        error = f"exit {code}: {tail[0][:300]}"
    return stdout, stderr, code, error


def evaluate(truth: Truth, command: str, env: dict[str, str], timeout: float, keep: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="authbugs-"))
    work = tmp / "workspace"
    try:
        shutil.copytree(truth.root, work, symlinks=True)
        _give_to_sandbox_user(tmp)
        started = time.monotonic()
        stdout, stderr, code, error = run_command(command, work, env, timeout)
        wall = time.monotonic() - started
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    findings = parse_findings(stdout, (str(work), str(work.resolve()), "/workspace", "/testbed"))
    result = score(truth, findings)
    return {
        "service": truth.service,
        "split": truth.split,
        "language": truth.language,
        "kind": truth.bug.kind,
        "bug": {"file": truth.bug.file, "lines": [truth.bug.start, truth.bug.end], "line": truth.bug_line},
        "found": result.found,
        "true_reports": result.true_reports,
        "false_reports": result.false_reports,
        "lookalikes_reported": [f"{r.file}:{r.start}-{r.end}" for r in result.lookalikes_reported],
        "lookalikes_total": len(truth.lookalikes),
        "outside": [f"{p}:{n}" for p, n in result.outside],
        "findings": [f"{p}:{n}" for p, n in findings],
        "exit_code": code,
        "error": error,
        "wall_s": round(wall, 2),
        "stdout": stdout[-20000:],
        "stderr_tail": stderr[-2000:],
        "workdir": str(work) if keep else None,
    }


# ---------------------------------------------------------------- reporting


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def table(records: list[dict[str, Any]], out: Any) -> None:
    width = max([len(f"{r['split']}/{r['service']}") for r in records] + [7])
    print(f"{'service':<{width}}  found  false  look-alikes  wall s  error", file=out)
    for r in records:
        name = f"{r['split']}/{r['service']}"
        looks = f"{len(r['lookalikes_reported'])}/{r['lookalikes_total']}"
        print(f"{name:<{width}}  {'yes' if r['found'] else 'no':<5}  {r['false_reports']:>5}  {looks:>11}  "
              f"{r['wall_s']:>6.1f}  {r['error'] or ''}", file=out)
    print(file=out)
    splits = sorted({r["split"] for r in records})
    groups = [(split, [r for r in records if r["split"] == split]) for split in splits] if len(splits) > 1 else []
    for label, group in [*groups, ("all" if groups else "", records)]:
        print(summary(totals(group), label), file=out)


def summary(t: dict[str, Any], label: str = "") -> str:
    head = f"{label}: " if label else ""
    return (f"{head}recall {t['found']}/{t['services']} = {_pct(t['recall'])}; precision {t['true_reports']}/"
            f"{t['true_reports'] + t['false_reports']} = {_pct(t['precision'])} ({t['false_reports']} false reports, "
            f"{t['lookalikes_reported']} of {t['lookalikes_total']} look-alikes reported); {t['errors']} errors; "
            f"{t['wall_s']} s")


def parse_env(items: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env {item!r}: write KEY=VALUE")
        env[key] = value
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    ap.add_argument("--command", help=f"shell command run in each service copy (default: babel do {DEFAULT_REQUEST!r})")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment (repeatable)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per service (default 600)")
    ap.add_argument("--only", help="only services whose name contains this")
    ap.add_argument("--json", action="store_true", help="one JSON record per service on stdout; the table goes to stderr")
    ap.add_argument("--keep", action="store_true", help="keep the temp copies (their paths are in the records)")
    ap.add_argument("--check", action="store_true", help="only check the truth files")
    args = ap.parse_args(argv)
    try:
        truths = load_split(args.split, args.only)
    except (TruthError, OSError, yaml.YAMLError) as exc:
        print(f"bench_authbugs: {exc}", file=sys.stderr)
        return 2
    if not truths:
        print("bench_authbugs: no services selected", file=sys.stderr)
        return 2
    if args.check:
        print(f"{len(truths)} truth files OK")
        return 0
    env = parse_env(args.env)
    command = args.command or default_command()
    log = sys.stderr if args.json else sys.stdout
    print(f"command: {command}", file=sys.stderr)
    records = []
    for truth in truths:
        record = evaluate(truth, command, env, args.timeout, keep=args.keep)
        records.append(record)
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(f"  {truth.split}/{truth.service}: {'found' if record['found'] else 'missed'}, "
                  f"{record['false_reports']} false, {record['wall_s']:.1f} s", file=sys.stderr, flush=True)
    table(records, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
