"""A listing's next page, and the items on it, read while the page before is written.

A scan reads a page, reads the items it wants from it (a request each, for providers
such as Harmont and Semaphore), and hands the batch over to be written; written one
after the other, the provider waits for the database and the database for the
provider. Here, once a page is handed over and the scan will go on, a helper thread
reads the next page and the items the scan will want from it, judged by what the scan
knows without the database: the items read so far in this sync are skipped, and so is
what lies at or past the high-water mark. The scan then takes the page as if it had just
read it and decides as before (the database's word on which builds are held as finished
comes after the write, as it did); an item it wants that was not read ahead is read
then, and one read ahead that it does not want was read in vain (a build held as
finished that this sync did not read: only where a listing is scanned without a mark).

An error is raised where reading in order would have raised it: a page that could not
be read when the scan takes it, an item's connection-wide error when the scan reads
that page's items."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .client import BaseClient, _in_thread

Page = tuple[list, Any]
# What a read ahead gives: the page (or the error reading it raised, or None past the
# last), its items read by id, and the error reading them raised.
Read = tuple[Any, dict[str, Any], BaseException | None]


class ReadAhead:
    def __init__(
        self,
        client: BaseClient,
        pages: Iterator[Page],
        item: Callable[[Any], Any],
        read_one: Callable[[Any], Any],
    ):
        self.client, self.pages, self.item, self.read_one = client, pages, item, read_one
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future | None = None
        self._error: BaseException | None = None

    def _next_page(self) -> Page | BaseException | None:
        """The next page, the error reading it raised, or None past the last one."""
        try:
            return next(self.pages)
        except StopIteration:
            return None
        except Exception as exc:  # raised where the scan takes the page
            return exc

    def take(self) -> tuple[Page | BaseException | None, dict[str, Any]]:
        """The next page (see ``_next_page``) and what was read of its items, by id."""
        self._error = None
        if self._future is None:
            return self._next_page(), {}
        future, self._future = self._future, None
        page, early, self._error = future.result()
        if self.client.before_request is not None:  # the sync's own thread: renew its lease
            self.client.before_request()
        return page, early

    def read(self, wanted: list, early: dict[str, Any]) -> list[Any]:
        """``read_one`` of every wanted item, in order; those read ahead are not read again."""
        if self._error is not None and wanted:
            raise self._error
        missing = [entry for entry in wanted if entry.external_id not in early]
        fresh = iter(self.client.concurrently(self.read_one, missing))
        return [early[e.external_id] if e.external_id in early else next(fresh) for e in wanted]

    def start(self, hwm: Any, skipped: Iterable[str], *, items: bool = True) -> None:
        """Begin reading the next page and the items a scan at ``hwm`` that has read
        ``skipped`` will want from it (only the page when not ``items``)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._future = self._pool.submit(_in_thread(self._ahead), (hwm, frozenset(skipped), items))

    def read_items_too(self, hwm: Any, skipped: Iterable[str]) -> None:
        """Also read the items wanted from a page being read ahead without them (``start``
        with ``items=False``), once it is read, on the same helper."""
        if self._pool is None or self._future is None:
            return
        self._future = self._pool.submit(_in_thread(self._items_after), (self._future, hwm, frozenset(skipped)))

    def _ahead(self, known: tuple[Any, frozenset[str], bool]) -> Read:
        hwm, skipped, items = known
        page = self._next_page()
        if page is None or isinstance(page, BaseException) or not items:
            return page, {}, None
        return self._items_of(page, hwm, skipped)

    def _items_after(self, known: tuple[Future, Any, frozenset[str]]) -> Read:
        page_read, hwm, skipped = known
        page, early, error = page_read.result()  # done: the helper runs one task at a time
        if page is None or isinstance(page, BaseException) or early or error:
            return page, early, error
        return self._items_of(page, hwm, skipped)

    def _items_of(self, page: Page, hwm: Any, skipped: frozenset[str]) -> Read:
        guess: dict[str, Any] = {}
        for entry in (e for e in map(self.item, page[0]) if e is not None):
            # An item at the mark itself is most likely the one a scan saw last (held,
            # and finished): the scan reads it if it is not.
            if hwm is not None and entry.key <= hwm:
                break
            if entry.external_id not in skipped:
                guess.setdefault(entry.external_id, entry)
        try:
            read = self.client.concurrently(self.read_one, list(guess.values()))
        except Exception as exc:  # raised where the scan reads this page's items
            return page, {}, exc
        return page, dict(zip(guess, read, strict=True)), None

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for a read under way (its requests are the sync's) and stop the helper."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
