"""OpenTelemetry traces of finished builds, for Grafana Tempo, Jaeger and the like
(docs/operations.md)."""
