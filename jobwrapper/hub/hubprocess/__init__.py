"""What the hub process sets at start so that one hub holds many notebooks (docs/hub.md,
"Many notebooks on one hub"): its open-file limit (fdlimit.py), child processes
watched without a thread each (childwatch.py), its SQLite database in WAL mode
(sqlitewal.py), its listen queue (backlog.py). Each is installed through
compat.run_before_spawners when imported."""
