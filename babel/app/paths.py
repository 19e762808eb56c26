"""Where Babel keeps what outlives a run, and the skills it works with: values the
application makes once and passes down.

No lower part reads the environment for a location: the trace store, the repair
memory, the commit journal, the model's cache and the skill table are each given theirs
from one `Paths`, made from the environment (`Paths.from_env`) or by a caller that wants
its own (a test, an embedding application).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from babel.skills import Registry, load_skills, skill_dirs


@dataclass(frozen=True)
class Paths:
    state: Path  # traces (runs/), the repair memory, the commit journal, undo data
    cache: Path  # the embedded model's files and its KV cache
    config: Path  # the user's config.toml and own skills (skills/)
    project: Path  # the directory whose .babel/skills holds the project's skills

    @classmethod
    def from_env(cls, project: Path | None = None) -> Paths:
        """$BABEL_STATE_DIR, else $XDG_STATE_HOME/babel, else ~/.local/state/babel;
        $BABEL_CACHE_DIR, else $XDG_CACHE_HOME/babel, else ~/.cache/babel;
        $XDG_CONFIG_HOME/babel, else ~/.config/babel; the project is the current directory."""
        def under_home(variable: str, *default: str) -> Path:  # the home directory only when asked for
            return Path(os.environ.get(variable) or Path.home().joinpath(*default))

        state = os.environ.get("BABEL_STATE_DIR") or str(under_home("XDG_STATE_HOME", ".local", "state") / "babel")
        cache = os.environ.get("BABEL_CACHE_DIR") or str(under_home("XDG_CACHE_HOME", ".cache") / "babel")
        config = under_home("XDG_CONFIG_HOME", ".config") / "babel"
        return cls(Path(state), Path(cache), config, project if project is not None else Path.cwd())

    @property
    def user_config(self) -> Path:
        """The user's configuration file (docs/configuration.md)."""
        return self.config / "config.toml"

    @property
    def model_memo(self) -> Path:
        """The model ops' memoised answers (SQLite), so a rerun replays them."""
        return self.state / "model-ops.sqlite"

    @property
    def pages(self) -> Path:
        """The page table of model ops' context pages (SQLite; `babel vm pages`, docs/memory.md)."""
        return self.state / "pages.sqlite"

    @property
    def repairs(self) -> Path:
        """The repair memory (`babel memory show`)."""
        return self.state / "repairs.json"

    @property
    def commits(self) -> Path:
        """The commit journal: what a killed run's commit left half-done, finished or undone by the next."""
        return self.state / "commits"

    @property
    def undo(self) -> Path:
        """The old contents applied runs replaced, kept for `babel undo` (babel.app.undo)."""
        return self.state / "undo"

    def skill_dirs(self) -> list[Path]:
        """The built-in skills, then the project's, then the user's (those that exist)."""
        return skill_dirs(self.project, self.config)


def load_skill_table(paths: Paths) -> Registry:
    """The skills a use of Babel works with, loaded once from `paths.skill_dirs()`; its
    `.skills` is the table passed down to the compiler, the verifier and the vm."""
    return load_skills(paths.skill_dirs())
