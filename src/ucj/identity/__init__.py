"""Worker identity: one person, one ``worker_key``, across rosters and months."""
