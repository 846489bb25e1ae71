"""The chain's backups: pgBackRest's repository, the WAL archive, and restores to a moment."""
