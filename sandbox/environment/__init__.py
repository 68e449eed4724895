"""The sandbox's state on disk and MWAA's environment state machine: used by every layer above
it (runtime, services, delivery, e2e), importing none of them."""
