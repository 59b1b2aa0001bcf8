from tray_monitor.cli import main

raise SystemExit(main())
