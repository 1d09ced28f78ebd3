"""`orgide open --screenshot` renders the main window to a PNG (light and dark), and `orgide run` honours trust."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import yaml
from PySide6.QtGui import QImage

from orgruntime import TrustStore, load_org, save_org

ROOT = Path(__file__).resolve().parents[2]


def orgide(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env_extra or {})}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, "-m", "ide", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def mean_lightness(image: QImage) -> float:
    total, count = 0, 0
    for y in range(0, image.height(), 17):
        for x in range(0, image.width(), 17):
            total += image.pixelColor(x, y).lightness()
            count += 1
    return total / count


def test_screenshots_in_light_and_dark(org_folder: Path, artifacts: Path, private_user_folders: Path) -> None:
    shots = {}
    env = {"XDG_CONFIG_HOME": str(private_user_folders / "config"), "XDG_DATA_HOME": str(private_user_folders / "data")}
    for theme in ("light", "dark"):
        target = artifacts / f"ide-main-window-{theme}.png"
        target.unlink(missing_ok=True)
        trust = ("--trust",) if theme == "dark" else ()  # light: the restricted banner shows; dark: trusted
        done = orgide("open", str(org_folder), "--screenshot", str(target), "--theme", theme, *trust, env_extra=env)
        assert done.returncode == 0, done.stderr
        image = QImage(str(target))
        assert not image.isNull() and image.width() >= 1000 and image.height() >= 700
        shots[theme] = mean_lightness(image)
    assert shots["dark"] < 90 < 170 < shots["light"], shots
    assert TrustStore().is_trusted(org_folder), "--trust remembered the decision"


def test_open_refuses_bad_input_clearly(tmp_path: Path) -> None:
    not_an_org = orgide("open", str(tmp_path), "--screenshot", str(tmp_path / "x.png"))
    assert not_an_org.returncode == 2 and "not an org folder" in not_an_org.stderr
    assert not (tmp_path / "x.png").exists()
    wrong_suffix = orgide("open", "--screenshot", str(tmp_path / "x.jpg"))
    assert wrong_suffix.returncode == 2 and "PNG" in wrong_suffix.stderr
    trust_alone = orgide("open", "--trust", "--screenshot", str(tmp_path / "x.png"))
    assert trust_alone.returncode == 2 and "needs the org folder" in trust_alone.stderr
    no_display = orgide("open", env_extra={"QT_QPA_PLATFORM": "xcb"})
    assert no_display.returncode == 2 and "no display" in no_display.stderr


def test_welcome_screen_screenshot_without_an_org(tmp_path: Path, artifacts: Path) -> None:
    target = artifacts / "ide-welcome.png"
    done = orgide("open", "--screenshot", str(target), "--theme", "light")
    assert done.returncode == 0, done.stderr
    assert not QImage(str(target)).isNull()


def test_orgide_run_trusts_what_the_ide_trusts(org_folder: Path, tmp_path: Path, private_user_folders: Path) -> None:
    org = load_org(org_folder)
    save_org(dataclasses.replace(org, agents=tuple(dataclasses.replace(a, tools=("run_python",)) if a.id == "ceo" else a
                                                   for a in org.agents)), org_folder)
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"ceo": [{"run_python": {"code": "print('py' + 'thon ran')"}}, {"finish": {"result": "ok"}}]}))
    env = {"XDG_CONFIG_HOME": str(private_user_folders / "config")}
    args = ("run", str(org_folder), "--task", "go", "--model", f"scripted/{script}", "--json", "--human", "deny")
    TrustStore().trust(org_folder)  # as the IDE's Trust button does (refusal without it: tests/orgruntime/run)
    allowed = orgide(*args, env_extra=env)
    assert allowed.returncode == 0 and "python ran" in allowed.stdout


def test_the_cli_imports_without_pyside6_and_open_says_what_is_missing(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['PySide6'] = None; sys.modules['qasync'] = None\n"
            "from ide.cli import main\n"
            f"sys.exit(main(['open', '--screenshot', {str(tmp_path / 'x.png')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 2 and "the desktop part is not installed" in done.stderr
