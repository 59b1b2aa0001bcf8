"""claude-tray: a system-tray indicator of Claude Code usage limits."""

__version__ = "0.1.0"
