"""Background jobs: RQ entry points and the worker."""
