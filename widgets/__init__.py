"""Reusable Qt widgets (graph editor, inspector, git panel, run console): they show models they are given and emit signals."""
