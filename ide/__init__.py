"""orgide's application layer: the CLI and (with PySide6) the desktop IDE; the composition root."""
