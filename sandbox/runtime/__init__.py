"""The Runtime interface and its backends (native processes, Docker Compose)."""
