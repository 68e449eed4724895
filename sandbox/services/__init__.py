"""One small module per service: ports, environment, readiness probe, connection URLs.
Nothing else computes a port."""
