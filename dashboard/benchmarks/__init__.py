"""The parts of ``manage.py bench`` (development only: they start simulators)."""
