"""Semaphore's JSON as neutral records, one module per feature: pure functions (an odd
value spoils that value, a missing part of an answer is a ``BadResponse``), described
in docs/providers/semaphore.md."""
