"""A Core statement compiled once, run straight on SQLite's own cursor.

The request path's one write (an outbox row) cost about 140 µs through
SQLAlchemy's execution (cache look-up, parameter processing, result
wrapping), three times the write itself: a third of the CPU a reset request
took (issue 12's profile). For the local SQLite writer, the statement is
compiled once for the dialect and executed on the driver's connection, with
the same bind processors SQLAlchemy would apply, so what is stored is
exactly what the Core path stores (tests/unit/test_store_prepared.py checks
the rows are equal). Any other database keeps the Core path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


class Prepared:
    def __init__(self, statement: ClauseElement, dialect: Dialect, columns: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        assert isinstance(compiled, SQLCompiler)  # a DML statement compiles to one
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        self.sql = str(compiled)
        self._order = list(compiled.positiontup)
        processors: dict[str, Callable[[Any], Any] | None] = {
            name: compiled.binds[name].type.bind_processor(dialect) for name in self._order
        }
        self._processors = processors
        # Values written into the statement itself (``attempts == 0``): the same every time.
        binds = compiled.binds
        self._fixed = {n: binds[n].effective_value for n in self._order if n not in columns}

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values in the statement's order, as the driver takes them."""
        out = []
        for name in self._order:
            value = values[name] if name in values else self._fixed[name]
            process = self._processors[name]
            out.append(value if process is None else process(value))
        return tuple(out)

    def scalar(self, driver: Any, values: Mapping[str, Any]) -> Any:
        """Run it on the driver's connection (Database.driver_writing); the first column of
        the first row, or None."""
        row = driver.execute(self.sql, self.parameters(values)).fetchone()
        return None if row is None else row[0]
