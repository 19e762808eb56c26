"""Context memory: pages, the page table, and each process's working set under a token budget.

A page is a piece of text a model op may read: a file's region, a value a step stored,
a slot handed to a model op as context, a reserved page. The page table (`PageStore`, a
SQLite file in the state directory) keeps one row per source: the page's id (from its
content's hash), the hash, its size in tokens, whether it is pinned or dirty, when it
was last used, and its text once written back. A process's `Memory` is its working set:
the pages resident for it now, whose tokens never pass its budget (the policy's
`budgets.context_tokens`). Making room evicts the least recently used page that is
neither pinned nor needed by the call at hand, writing it back first if it is dirty;
when the pinned and needed pages alone do not fit, the call fails `context_over_budget`
(nothing is cut to fit). A page that is not resident faults in: a file page is read
again through the sandbox (its hash is compared with the table's: the same hash reuses
the page, its id and its token count; another invalidates it); any other page is read
back from the table. Every count the machine keeps (`MemoryStats`) goes into the
step's detail, so `babel vm stats RUN` can sum a run from its trace.

Tokens are counted by `count_tokens`, one token per three bytes of UTF-8 rounded up,
without the model: a page's size must not depend on which model reads it, and the same
text must count the same on every run. It overcounts the Qwen2.5 tokenizer on code and
prose (bench/RESULTS.md measures by how much), so a budget in these tokens is never
exceeded in the model's own.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.lang import as_text, is_page
from babel.verify import StepFailure

#: reads a workspace file's text through the sandbox (raises StepFailure when it cannot)
Reader = Callable[[str], str]


def count_tokens(text: str) -> int:
    """The size of a text in tokens, as pages and budgets count them (see the module's docstring)."""
    return (len(text.encode("utf-8")) + 2) // 3


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_id(digest: str) -> str:
    return "p" + digest[:12]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Page:
    """One page of the table, and, while it is resident, its text."""

    source: str  # file:PATH, file:PATH#A-B, store:NAME, value:STEP.N, alloc:NAME
    id: str
    hash: str
    tokens: int
    text: str | None = None  # None: not resident (on disk, or, for a file page, in the workspace)
    pinned: bool = False
    dirty: bool = False  # its text is newer than the table's
    reserved: int = 0  # an allocated page's size: the tokens it holds in the working set, filled or not
    last_use: str = ""
    tick: int = 0  # the working set's clock at its last use (orders eviction)
    written: bool = False  # the table has its row (this process wrote it, or found it there)

    @property
    def size(self) -> int:
        return max(self.tokens, self.reserved)

    def ref(self) -> dict[str, Any]:
        """The value a slot holds for it: {"page": id, "source": ..., "tokens": n}."""
        return {"page": self.id, "source": self.source, "tokens": self.size}


class PageStore:
    """The page table on disk: a SQLite file (`path`), or for a run that keeps none, in memory."""

    COLUMNS = ("source", "id", "hash", "tokens", "pinned", "dirty", "resident", "reserved", "last_use", "uses", "text")

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False, timeout=30)
        if path is not None:  # a page table is rebuilt from its sources if lost: it needs no sync per write
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pages (source TEXT PRIMARY KEY, id TEXT NOT NULL, hash TEXT NOT NULL, "
                         "tokens INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0, dirty INTEGER NOT NULL DEFAULT 0, resident INTEGER NOT NULL DEFAULT 0, "
                         "reserved INTEGER NOT NULL DEFAULT 0, last_use TEXT NOT NULL, uses INTEGER NOT NULL DEFAULT 0, text TEXT)")
        self._db.commit()

    def get(self, source: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(self.COLUMNS)} FROM pages WHERE source = ?", (source,)).fetchone()
        return dict(zip(self.COLUMNS, row, strict=True)) if row else None

    def put(self, page: Page, *, text: bool, use: bool = False, resident: bool = True) -> None:
        """Write the page's row; with `text`, its text too (a write-back), else the table's
        text is kept (while its hash is the same); `use` counts a process's first use of it;
        `resident`: whether it is in the working set of the process that writes the row."""
        with self._lock:
            self._db.execute(
                "INSERT INTO pages (source, id, hash, tokens, pinned, dirty, resident, reserved, last_use, uses, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT(source) DO UPDATE SET id = excluded.id, hash = excluded.hash, "
                "tokens = excluded.tokens, pinned = excluded.pinned, dirty = excluded.dirty, resident = excluded.resident, "
                "reserved = excluded.reserved, "
                "last_use = excluded.last_use, uses = pages.uses + ?, "
                "text = CASE WHEN ? THEN excluded.text WHEN pages.hash = excluded.hash THEN pages.text ELSE NULL END",
                (page.source, page.id, page.hash, page.tokens, int(page.pinned), int(page.dirty), int(resident), page.reserved, page.last_use,
                 page.text if text else None, int(use), int(text)))
            self._db.commit()

    def rows(self) -> list[dict[str, Any]]:
        """Every page of the table, the most recently used first (without their text)."""
        names = [c for c in self.COLUMNS if c != "text"]
        with self._lock:
            found = self._db.execute(f"SELECT {', '.join(names)}, text IS NOT NULL FROM pages ORDER BY last_use DESC, source").fetchall()
        flags = ("pinned", "dirty", "resident")
        return [{**{k: bool(v) if k in flags else v for k, v in zip(names, row[:-1], strict=True)}, "stored": bool(row[-1])} for row in found]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class MemoryStats:
    """What a working set did, counted (a step's detail carries its own share)."""

    faults: int = 0  # a page used while not resident, and brought in
    hits: int = 0  # a page used while resident
    reused: int = 0  # a page brought in whose hash the table already had (its id and size kept, across runs too)
    invalidated: int = 0  # a page whose source's hash changed since the table saw it
    evictions: int = 0
    writebacks: int = 0  # dirty pages written to the table
    model_calls: int = 0
    tokens_sent: int = 0  # the contexts' tokens, over all model calls
    peak_resident: int = 0

    def minus(self, before: MemoryStats) -> dict[str, int]:
        """The counts since `before`, those that changed (the peak as it is now)."""
        now_, then = asdict(self), asdict(before)
        out = {k: now_[k] - then[k] for k in now_ if k != "peak_resident" and now_[k] != then[k]}
        if out:
            out["peak_resident"] = self.peak_resident
        return out


@dataclass
class Memory:
    """A process's working set over the page table, its resident tokens within `budget`."""

    store: PageStore
    budget: int
    resident: dict[str, Page] = field(default_factory=dict)  # by source
    stats: MemoryStats = field(default_factory=MemoryStats)
    clock: int = 0
    keep: set[str] = field(default_factory=set)  # the pages the model call at hand needs: never evicted for it

    @property
    def used(self) -> int:
        return sum(p.size for p in self.resident.values())

    def page(self, ref: Any) -> Page:
        """The page a slot's value names, resident or not (raises StepFailure if the table has none)."""
        if not is_page(ref):
            raise StepFailure("invalid_output", f"not a page: {as_text(ref)[:80]!r}")
        source = str(ref["source"])
        if source in self.resident and self.resident[source].id == ref["page"]:
            return self.resident[source]
        row = self.store.get(source)
        if row is None or row["id"] != ref["page"]:
            raise StepFailure("not_found", f"page {ref['page']} ({source}) is not in the page table (its source changed, or it was never written)")
        return Page(source, row["id"], row["hash"], row["tokens"], None, reserved=row["reserved"], written=True)

    # -- bringing pages in ---------------------------------------------------------------

    def file(self, path: str, text: str, region: tuple[int, int] | None = None, *, pin: bool = False) -> Page:
        """The page of a file (or of lines `region`, first to last, counted from 1) whose text was just read."""
        if region is not None:
            lines = text.splitlines(keepends=True)
            first, last = region
            if first > len(lines):
                raise StepFailure("invalid_output", f"{path} has {len(lines)} lines; lines {first}-{last} start past its end")
            text = "".join(lines[first - 1:last])
        source = f"file:{path}" + (f"#{region[0]}-{region[1]}" if region else "")
        return self._admit(source, text, dirty=False, pin=pin)

    def value(self, source: str, text: str, *, pin: bool = False) -> Page:
        """A page of a value (a stored slot, a model op's context): dirty until written back."""
        return self._admit(source, text, dirty=True, pin=pin)

    def alloc(self, source: str, tokens: int) -> Page:
        """An empty page that holds `tokens` of the working set (pinned) until it is freed."""
        page = Page(source, page_id(content_hash(source)), content_hash(""), 0, "", pinned=True, dirty=True, reserved=tokens)
        self._make_room(page.size)
        self.resident[source] = page
        self._touch(page)
        return page

    def fill(self, ref: Any, text: str) -> Page:
        """An allocated page's text replaced by `text`, which must fit its reservation."""
        page = self.page(ref)
        tokens = count_tokens(text)
        if page.reserved and tokens > page.reserved:
            raise StepFailure("context_over_budget", f"{tokens} tokens do not fit page {page.id}, allocated for {page.reserved}")
        digest = content_hash(text)
        page.text, page.hash, page.tokens, page.dirty = text, digest, tokens, True
        if not page.reserved:
            page.id = page_id(content_hash(page.source + "\0" + digest))
        if page.source not in self.resident:
            self._make_room(page.size)
            self.resident[page.source] = page
        self._touch(page)
        return page

    def _admit(self, source: str, text: str, *, dirty: bool, pin: bool) -> Page:
        digest = content_hash(text)
        held = self.resident.get(source)
        if held is not None and held.hash == digest:
            self.stats.hits += 1
            held.pinned = held.pinned or pin
            self._touch(held)
            return held
        row = self.store.get(source)
        if row is not None and row["hash"] == digest:
            self.stats.reused += 1
            tokens, ident = int(row["tokens"]), str(row["id"])
            dirty = dirty and row["text"] is None
        else:
            if row is not None:
                self.stats.invalidated += 1
            tokens, ident = count_tokens(text), page_id(content_hash(source + "\0" + digest))
        if held is not None:  # the same source, new content: the old text goes
            del self.resident[source]
        page = Page(source, ident, digest, tokens, text, pinned=pin, dirty=dirty, written=not dirty)
        self.stats.faults += 1
        self._make_room(page.size)
        self.resident[source] = page
        self._touch(page)
        if not dirty:
            self.store.put(page, text=False, use=True)
        return page

    def _touch(self, page: Page) -> None:
        self.clock += 1
        page.tick, page.last_use = self.clock, now()
        self.stats.peak_resident = max(self.stats.peak_resident, self.used)

    # -- the working set -------------------------------------------------------------------

    def _make_room(self, tokens: int) -> None:
        """Evict until `tokens` more fit the budget, never a pinned page or one the call at hand needs."""
        if tokens > self.budget:
            raise StepFailure("context_over_budget", f"a page of {tokens} tokens is larger than the working set's budget of {self.budget}")
        while self.used + tokens > self.budget:
            victims = [p for p in self.resident.values() if not p.pinned and p.source not in self.keep]
            if not victims:
                held = sorted(self.resident.values(), key=lambda p: -p.size)[:3]
                what = ", ".join(f"{p.id} ({p.source}, {p.size}{', pinned' if p.pinned else ''})" for p in held)
                raise StepFailure("context_over_budget", f"{tokens} more tokens do not fit the working set's budget of {self.budget}: "
                                                         f"{self.used} are held by pages that must stay ({what})")
            self.evict(min(victims, key=lambda p: p.tick))

    def evict(self, page: Page) -> None:
        """Take a page out of the working set, writing it back first if it is dirty."""
        page.pinned = False
        if page.dirty:
            self.write_back(page, resident=False)
        elif page.written:
            self.store.put(page, text=False, resident=False)
        self.resident.pop(page.source, None)
        page.text = None
        self.stats.evictions += 1

    def write_back(self, page: Page, resident: bool = True) -> None:
        page.dirty = False
        self.store.put(page, text=True, use=not page.written, resident=resident)
        page.written = True
        self.stats.writebacks += 1

    def free(self, ref: Any) -> Page:
        """Release a page: unpinned and out of the working set (written back if dirty); it stays in the table."""
        page = self.page(ref)
        if page.source in self.resident:
            self.evict(page)
        return page

    def pin(self, page: Page) -> None:
        page.pinned = True

    def fault_in(self, page: Page, reader: Reader) -> Page:
        """A page that is not resident, brought in: a file page re-read through `reader`, any other from the table."""
        if page.source in self.resident:
            self.stats.hits += 1
            self._touch(self.resident[page.source])
            return self.resident[page.source]
        if page.source.startswith("file:"):
            path, _, lines = page.source[5:].partition("#")
            first, _, last = lines.partition("-")
            fresh = self.file(path, reader(path), (int(first), int(last)) if lines else None, pin=page.pinned)
            if fresh.id != page.id:
                raise StepFailure("invalid_output", f"page {page.id}: {path} changed since it was loaded (it is now page {fresh.id})")
            return fresh
        row = self.store.get(page.source)
        if row is None or row["text"] is None or row["hash"] != page.hash:
            raise StepFailure("not_found", f"page {page.id} ({page.source}) has no text in the page table to fault in")
        self.stats.faults += 1
        self._make_room(page.size)
        page.text, page.dirty = str(row["text"]), False
        self.resident[page.source] = page
        self._touch(page)
        return page

    # -- what a model call reads -----------------------------------------------------------

    def context(self, pages: Iterable[Page], extra_tokens: int, budget: int, reader: Reader, *, call: bool = True) -> list[str]:
        """The texts of `pages`, all resident at once for one model call whose context (with
        `extra_tokens` of its own: the system text, the question) must fit `budget`: the
        call's and the working set's. Raises StepFailure context_over_budget when it cannot.
        Without `call`, the texts are for a later call's context (counted there), not sent now."""
        wanted = list(pages)
        needed = sum(p.size for p in {p.source: p for p in wanted}.values()) + extra_tokens
        limit = min(budget, self.budget)
        if needed > limit:
            sizes = ", ".join(f"{p.id} {p.size}" for p in wanted[:6])
            raise StepFailure("context_over_budget", f"this model call's context is {needed} tokens, over its budget of {limit} "
                                                     f"(pages: {sizes}; the prompt and instructions: {extra_tokens}); "
                                                     "page the input in smaller parts (load lines=...), or raise budgets.context_tokens")
        self.keep = {p.source for p in wanted}
        try:
            texts = [self.fault_in(page, reader).text or "" for page in wanted]
        finally:
            self.keep = set()
        if call:
            self.stats.model_calls += 1
            self.stats.tokens_sent += needed
        return texts

    def flush(self) -> None:
        """Write back every dirty page, and the others' last use (the end of a run)."""
        for page in list(self.resident.values()):
            if page.dirty:
                self.write_back(page)
            elif page.written:
                self.store.put(page, text=False)

    def table(self) -> list[dict[str, Any]]:
        """The page table as `babel vm pages` shows it: each row, and whether it is resident here."""
        return [{**row, "resident": row["source"] in self.resident} for row in self.store.rows()]


#: what a model call's chat costs beyond its texts: the chat template's tokens around each message
CHAT_OVERHEAD = 16


class Pager:
    """A process's `Memory` as a handler sees it (babel.verify.ContextMemory): pages given
    and taken as references, file pages read through `reader`."""

    def __init__(self, memory: Memory, reader: Reader) -> None:
        self.memory, self.reader = memory, reader

    def load_file(self, path: str, region: tuple[int, int] | None, pin: bool) -> dict[str, Any]:
        return self.memory.file(path, self.reader(path), region, pin=pin).ref()

    def load(self, ref: Any, pin: bool) -> dict[str, Any]:
        page = self.memory.fault_in(self.memory.page(ref), self.reader)
        page.pinned = page.pinned or pin
        return page.ref()

    def store(self, name: str, text: str, pin: bool) -> dict[str, Any]:
        return self.memory.value(f"store:{name}", text, pin=pin).ref()

    def fill(self, ref: Any, text: str) -> dict[str, Any]:
        return self.memory.fill(ref, text).ref()

    def alloc(self, name: str, tokens: int) -> dict[str, Any]:
        return self.memory.alloc(f"alloc:{name}", tokens).ref()

    def free(self, ref: Any) -> dict[str, Any]:
        return self.memory.free(ref).ref()

    def context(self, name: str, items: list[Any], extra: str, budget: int | None, call: bool = True) -> list[str]:
        pages = [self.memory.page(item) if is_page(item) else self.memory.value(f"value:{name}.{number}", as_text(item))
                 for number, item in enumerate(items)]
        return self.memory.context(pages, count_tokens(extra) + CHAT_OVERHEAD * (len(pages) + 2), budget or self.memory.budget, self.reader,
                                   call=call)
