"""The desktop IDE (PySide6): the main window that wires widgets, orgruntime and kernels together.

`run_ide(folder)` opens the IDE; `render_screenshot(folder, png)` renders it to a file; `MainWindow`
is the window itself (tests drive it directly).
"""

from ide.app._application import has_display, make_application, render_screenshot, run_ide
from ide.app._lag import LagMonitor
from ide.app._main_window import MainWindow
from ide.app._settings import AppSettings, EngineSettings

__all__ = [
    "AppSettings",
    "EngineSettings",
    "LagMonitor",
    "MainWindow",
    "has_display",
    "make_application",
    "render_screenshot",
    "run_ide",
]
