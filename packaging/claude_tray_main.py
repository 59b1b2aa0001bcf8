"""PyInstaller's entry script: the frozen app runs the same `main` as the `claude-tray` command."""
from tray_monitor.launch import main

if __name__ == "__main__":
    raise SystemExit(main())
