"""Helpers for the reference pipeline DAGs (log_producer, log_consumer); not DAGs themselves."""
