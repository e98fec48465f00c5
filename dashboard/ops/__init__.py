"""Operations: Prometheus metrics, health checks and structured logs (docs/operations.md)."""
