"""Where Babel's data directories (isa/, skills/, sandbox/) live.

In a source checkout or an editable install they sit beside the package; in a wheel
they are packed inside it as `babel/_data/`. Every module that needs one asks here, so
the layout the user asked for (isa/ and skills/ at the top of the repository) holds
without copies.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def data_dir(name: str) -> Path:
    """The directory `name` (one of isa, skills, sandbox, examples)."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"Babel's data directory {name!r} is missing from this installation")
