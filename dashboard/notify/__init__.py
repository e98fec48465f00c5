"""Notifications: events detected from synced data (events.py), matched to rules
(rules.py), recorded once per idempotency key and sent by Celery (tasks.py,
delivery.py) through Apprise (channels.py)."""
