"""Buttons: each action is declared on the function that performs it, so a declaration
without a handler cannot exist.

A provider's ``actions.py`` makes one ``ActionSet`` and decorates its handlers::

    actions = ActionSet()

    @actions("cancel", label="Cancel build", target="build", destructive=True,
             applies=lambda build: not build.finished)
    def cancel(adapter, build, params, user) -> ActionResult: ...

and its adapter says ``actions = actions``. Pages and the API find an action with
``Adapter.actions.get(name)``; ``dashboard.actions.run_action`` checks roles, audits
and calls ``action.handler(adapter, target, params, user)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import ActionResult

Handler = Callable[..., "ActionResult"]

# What an action can act on: the neutral models' names (see dashboard.models.registry).
TARGETS = frozenset(
    {
        "connection",
        "project",
        "pipeline",
        "schedule",
        "build",
        "job",
        "agent_type",
        "agent",
        "deployment_target",
        "retention_policy",
    }
)


@dataclass(frozen=True)
class Action:
    """A button. ``target`` names the model it acts on; ``form`` (a Django form class)
    takes and validates the parameters before anything is sent; ``destructive``
    actions are confirmed by the user first; ``secret_fields`` are never written to the
    audit log. ``applies`` says whether the button is offered for a given object (e.g.
    only unfinished builds), and ``unavailable`` may give the reason it is shown
    disabled."""

    name: str
    label: str
    target: str
    handler: Handler
    destructive: bool = False
    form: type | None = None
    secret_fields: tuple[str, ...] = ()
    applies: Callable[[Any], bool] | None = None
    unavailable: Callable[[Any], str] | None = None
    help: str = ""

    def offered_for(self, obj: Any) -> bool:
        return self.applies is None or bool(self.applies(obj))

    def reason_unavailable(self, obj: Any) -> str:
        return self.unavailable(obj) if self.unavailable else ""


class ActionSet:
    """A provider's actions, in the order their buttons are shown."""

    def __init__(self, *parts: ActionSet):
        self._actions: dict[str, Action] = {}
        for part in parts:
            for action in part:
                self._add(action)

    def __call__(
        self,
        name: str,
        *,
        label: str,
        target: str,
        destructive: bool = False,
        form: type | None = None,
        secret_fields: tuple[str, ...] = (),
        applies: Callable[[Any], bool] | None = None,
        unavailable: Callable[[Any], str] | None = None,
        help: str = "",
    ) -> Callable[[Handler], Handler]:
        """Declare the decorated function as the handler of action ``name``."""

        def register(handler: Handler) -> Handler:
            self._add(
                Action(
                    name=name,
                    label=label,
                    target=target,
                    handler=handler,
                    destructive=destructive,
                    form=form,
                    secret_fields=secret_fields,
                    applies=applies,
                    unavailable=unavailable,
                    help=help,
                )
            )
            return handler

        return register

    def _add(self, action: Action) -> None:
        if action.target not in TARGETS:
            raise ValueError(f"action {action.name!r} targets {action.target!r}, not one of {sorted(TARGETS)}")
        if action.name in self._actions:
            raise ValueError(f"action {action.name!r} is declared twice")
        self._actions[action.name] = action

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def for_target(self, target: str) -> list[Action]:
        return [a for a in self._actions.values() if a.target == target]

    def __iter__(self) -> Iterator[Action]:
        return iter(self._actions.values())

    def __len__(self) -> int:
        return len(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions
