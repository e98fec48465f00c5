"""Logging filters. A 403 for a PermissionDenied we raised on purpose (a viewer opening
an operator's page) is expected: it keeps its one log line but loses the traceback."""

import logging

from django.core.exceptions import PermissionDenied


class ExpectedPermissionDenied(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if getattr(record, "status_code", None) == 403 and isinstance(exc, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
