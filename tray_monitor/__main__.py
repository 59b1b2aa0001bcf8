from tray_monitor.launch import main

raise SystemExit(main())
