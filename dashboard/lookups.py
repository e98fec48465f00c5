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

INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})


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
        # psycopg sends a list of small ints as smallint[]: against a bigint column the
        # server cannot hash the list and compares each row with every element (as slow
        # as a long IN list was to build). The column's own integer type keeps it hashed.
        db_type = self.lhs.output_field.db_type(connection)
        cast = f"::{db_type}[]" if db_type in INTEGER_TYPES else ""
        return f"{lhs} = ANY(%s{cast})", [*lhs_params, self.rhs]
