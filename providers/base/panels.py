"""Panels: what a provider shows on a page beyond the neutral fields, as declared
objects, so "which panels exist, on which page" is one list per provider.

A provider's ``panels.py`` makes one ``PanelSet`` and decorates the functions that
build each panel's context::

    panels = PanelSet()

    @panels("job_panel", page="job", live=True)
    def job_panel(adapter, job, request) -> dict: ...

The template is ``templates/providers/<kind>/<name>.html``. A ``live`` panel asks the
provider, so the page renders without it and loads it afterwards; other panels read
only what the sync stored and render with the page. The same context is served as JSON
by the API (``/api/panels/...``), so what a panel shows is also reachable by scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .actions import TARGETS

ContextFunction = Callable[[Any, Any, Any], dict]


@dataclass(frozen=True)
class Panel:
    name: str
    page: str
    context: ContextFunction
    live: bool = False
    title: str = ""

    def template_name(self, kind: str) -> str:
        return f"providers/{kind}/{self.name}.html"


class PanelSet:
    def __init__(self, *parts: PanelSet):
        self._panels: dict[str, Panel] = {}
        for part in parts:
            for panel in part:
                self._add(panel)

    def __call__(self, name: str, *, page: str, live: bool = False, title: str = "") -> Callable:
        def register(function: ContextFunction) -> ContextFunction:
            self._add(Panel(name=name, page=page, context=function, live=live, title=title))
            return function

        return register

    def _add(self, panel: Panel) -> None:
        if panel.page not in TARGETS:
            raise ValueError(f"panel {panel.name!r} is on page {panel.page!r}, not one of {sorted(TARGETS)}")
        if panel.name in self._panels:
            raise ValueError(f"panel {panel.name!r} is declared twice")
        self._panels[panel.name] = panel

    def get(self, name: str) -> Panel | None:
        return self._panels.get(name)

    def for_page(self, page: str) -> list[Panel]:
        return [p for p in self._panels.values() if p.page == page]

    def __iter__(self) -> Iterator[Panel]:
        return iter(self._panels.values())

    def __len__(self) -> int:
        return len(self._panels)


def provider_error_for(request: Any, exc: Exception) -> str:
    """A provider's failure as the person looking may read it: the provider's own words
    (which can echo anything) for admins, a classified message for everyone else."""
    from dashboard.public_errors import error_for  # the dashboard's rule, one place

    return error_for(getattr(request, "user", None), str(exc))
