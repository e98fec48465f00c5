"""``AnyOf(F("field"), values)``: membership in a long list of values, for the sync's
batch reads. On PostgreSQL it is ``field = ANY(%s)`` with the list sent as one array
parameter: an ``IN`` list of thousands of placeholders costs far more client CPU to
build, to prepare value by value and for psycopg to parse than the query costs the
server. Elsewhere it is Django's own ``IN``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet  # as Django's IN: an empty list matches nothing, and asks nothing
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]
