"""Print the message table of docs/architecture.md (event, payload, producers, consumers), from code.

    .venv/bin/python scripts/message_table.py     # print it; `make docs` writes it into the doc

Where each column comes from:

- event and payload: every `Event` subclass in `lb_common/events.py` (routing key = `TYPE`,
  payload = its fields); meaning: the class docstring, without a leading "a → b:" (who sends
  and receives is in the other columns, derived), else `MEANINGS` below. An event with neither
  is reported on stderr (exit 1).
- consumers: the `handlers` map each service's `bootstrap()` returns (the same map the runtime
  binds the service's queue with).
- producers: read from the source (ast), not kept by hand. A module makes an event where it
  calls the event class (`CustomerResolved(...)`) or passes it to a call
  (`Envelope.wrap_dumped(OrderReady, ...)`); `envelope.parse(X)` and annotations are reading, not
  making. A service produces what its own package makes, and what a `lb_common` function it
  calls makes. What `lb_common` makes in code no
  service calls directly (the consumer's retry and parking steps in `messaging.py`) is made by
  every service. A method of a `lb_common` class counts for a service module that imports from
  its module and calls a method of that name (`uow.progress(...)` makes `order.progress`). Calls through a second `lb_common` function are not followed: keep event
  construction in the function a service calls.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

if __package__ in (None, ""):  # run as a file: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lb_common import events
from lb_common.envelope import Event
from lb_common.handlers import routes
from scripts.service_parts import SERVICES, built_services

REPO = Path(__file__).resolve().parents[1]
COMMON = REPO / "libs" / "common" / "lb_common"

# Meanings for events whose class has no docstring, keyed by routing key.
MEANINGS: dict[str, str] = {
    "creditnote.booked": "a credit note (for a refund or a cancellation after transfer) is booked "
    "in the ledger",
    "order.refunded": "a refund of a transferred order, once per platform refund id",
    "order.cancelled": "the order was cancelled after it was transferred",
}


# --- events and payloads ------------------------------------------------------------------------


def event_classes() -> list[type[Event]]:
    """The events defined in `lb_common.events`, in the order they are written there."""
    return [
        value
        for value in vars(events).values()
        if isinstance(value, type)
        and issubclass(value, Event)
        and value is not Event
        and value.__module__ == events.__name__
    ]


def payload_parts() -> list[type[BaseModel]]:
    """Models defined in `lb_common.events` that events carry inside them (lines, refunds)."""
    return [
        value
        for value in vars(events).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and not issubclass(value, Event)
        and value.__module__ == events.__name__
    ]


def type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin is Annotated:  # a validated type (LedgerId): the type it holds
        return type_name(args[0])
    if origin in (Union, UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin in (tuple, list, set, frozenset):
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is dict:
        return f"dict[{type_name(args[0])}, {type_name(args[1])}]"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if value == ():
        return "()"
    return repr(value)


def fields(model: type[BaseModel]) -> str:
    """`name: type` per field, `= default` for the optional ones."""
    parts = []
    for name, field in model.model_fields.items():
        text = f"{name}: {type_name(field.annotation)}"
        if field.default_factory is not None:
            text += f" = {_default(field.default_factory())}"  # type: ignore[call-arg]
        elif field.default is not PydanticUndefined:
            text += f" = {_default(field.default)}"
        parts.append(text)
    return ", ".join(parts)


_ROUTE_PREFIX = re.compile(r"^[^:]*→[^:]*:\s*")


def meaning(event: type[Event]) -> str | None:
    doc = (event.__doc__ or "").strip()
    if doc and doc != (Event.__doc__ or "").strip():
        first = " ".join(doc.split("\n\n")[0].split())
        return _ROUTE_PREFIX.sub("", first).removesuffix(".")
    return MEANINGS.get(event.TYPE)


# --- producers: where the code makes each event ------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One place that makes an event: `module` (path under the package root) in `scope`, the
    top-level function or class around it."""

    event: str  # the event class name
    module: str
    scope: str
    method: str | None = None  # the method of `scope` (a class) it is made in


def _event_refs(tree: ast.Module, names: set[str]) -> tuple[dict[str, str], set[str]]:
    """Local name -> event class (`from lb_common.events import X as Y`), and the local names of
    the events module itself (`from lb_common import events`)."""
    local: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            if node.module == "lb_common.events" and alias.name in names:
                local[alias.asname or alias.name] = alias.name
            if node.module == "lb_common" and alias.name == "events":
                modules.add(alias.asname or alias.name)
    return local, modules


def _resolve(expr: ast.expr, local: dict[str, str], modules: set[str]) -> str | None:
    if isinstance(expr, ast.Name):
        return local.get(expr.id)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        if expr.value.id in modules:
            return expr.attr
    return None


def _reads(call: ast.Call) -> bool:
    """Calls that take an event class to read or test a message, not to make one."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "parse":
        return True
    return isinstance(func, ast.Name) and func.id in {"isinstance", "issubclass"}


def sites_in(path: Path, module: str, names: set[str]) -> list[Site]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    local, modules = _event_refs(tree, names)
    if not local and not modules:
        return []
    found: list[Site] = []
    for top in tree.body:
        scope = getattr(top, "name", "<module>")
        parts = top.body if isinstance(top, ast.ClassDef) else [top]
        for part in parts:
            method = part.name if isinstance(top, ast.ClassDef) and _is_function(part) else None
            for node in ast.walk(part):
                if not isinstance(node, ast.Call):
                    continue
                made = _resolve(node.func, local, modules)
                if made is not None:
                    found.append(Site(made, module, scope, method))
                if _reads(node):
                    continue
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    passed = _resolve(arg, local, modules)
                    if passed is not None:
                        found.append(Site(passed, module, scope, method))
    return found


def _is_function(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)


def _modules(root: Path) -> Iterable[tuple[Path, str]]:
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if "migrations" not in relative.parts:
            yield path, relative.as_posix()


def _common_uses(path: Path) -> set[tuple[str, str]]:
    """(lb_common module, name) pairs a service module uses: `from lb_common.outbox import
    report_progress` or `from lb_common import outbox` ... `outbox.report_progress(...)`; and
    (lb_common module, `.method`) for each method it calls (`uow.progress(...)`) when it imports
    from that module (`from lb_common.unit_of_work import UnitOfWork`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if node.module.startswith("lb_common."):
                    used.add((node.module.removeprefix("lb_common."), alias.name))
                elif node.module == "lb_common":
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            used.add((aliases[node.value.id], node.attr))
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    libs = {lib for lib, _ in used}
    return used | {(lib, f".{name}") for lib in libs for name in calls}


EVERY_SERVICE = "every service"


def producers() -> dict[str, dict[str, list[str]]]:
    """Event class name -> producing service (or `every service`) -> where (sorted)."""
    names = {cls.__name__ for cls in event_classes()}
    out: dict[str, dict[str, set[str]]] = {}

    def add(event: str, service: str, where: str) -> None:
        out.setdefault(event, {}).setdefault(service, set()).add(where)

    uses: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for service in SERVICES:
        root = REPO / "services" / service / f"lb_{service}"
        for path, module in _modules(root):
            for site in sites_in(path, module, names):
                add(site.event, service, f"`{module}`")
            uses.setdefault(service, {})[module] = _common_uses(path)
    for path, module in _modules(COMMON):
        if module == "events.py":
            continue
        for site in sites_in(path, module, names):
            lib = module.removesuffix(".py").replace("/", ".")
            via = f"{site.scope}.{site.method}" if site.method else site.scope
            callers = [
                (service, service_module)
                for service, modules in uses.items()
                for service_module, used in modules.items()
                if (lib, site.scope) in used or (site.method and (lib, f".{site.method}") in used)
            ]
            for service, service_module in callers:
                add(site.event, service, f"`{service_module}` via `{via}`")
            if not callers:
                add(site.event, EVERY_SERVICE, f"`lb_common/{module}` `{site.scope}`")
    return {event: {s: sorted(w) for s, w in by.items()} for event, by in out.items()}


# --- the table ----------------------------------------------------------------------------------


def _where(places: list[str]) -> str:
    """`a.py`, `b.py` via `f`: places that share their `via` part are listed together."""
    groups: dict[str, list[str]] = {}
    for place in places:
        module, _, via = place.partition(" via ")
        groups.setdefault(via, []).append(module)
    return "; ".join(
        ", ".join(modules) + (f" via {via}" if via else "") for via, modules in groups.items()
    )


def _who(by_service: dict[str, list[str]]) -> str:
    order = [*SERVICES, EVERY_SERVICE]
    cells = [f"{s} ({_where(by_service[s])})" for s in order if s in by_service]
    return "; ".join(cells) if cells else "**none**"


def render() -> tuple[str, list[str]]:
    """The Markdown, and the problems found (each makes the generator exit 1)."""
    problems: list[str] = []
    classes = event_classes()
    types = {cls.TYPE for cls in classes}
    made = producers()
    consumed: dict[str, dict[str, list[str]]] = {}
    with built_services() as services:
        for service in services:
            for event_type, route in routes(service.parts.handlers).items():
                if event_type not in types:
                    problems.append(
                        f"{service.name} handles {event_type!r}, which lb_common/events.py "
                        "does not define"
                    )
                func = route.function  # bootstrap.py binds dependencies with functools.partial
                module = func.__module__.removeprefix(f"lb_{service.name}.")
                where = f"`{module}.{func.__name__}`"
                consumed.setdefault(event_type, {})[service.name] = [where]

    out = [
        "| routing key | payload (`lb_common/events.py`) | produced by | consumed by | meaning |",
        "|---|---|---|---|---|",
    ]
    for cls in classes:
        text = meaning(cls)
        if text is None:
            problems.append(f"no meaning for {cls.TYPE} (a docstring on {cls.__name__})")
            text = ""
        out.append(
            f"| `{cls.TYPE}` | `{cls.__name__}{{{fields(cls)}}}` "
            f"| {_who(made.get(cls.__name__, {}))} | {_who(consumed.get(cls.TYPE, {}))} "
            f"| {text} |"
        )
    out += ["", "Parts of payloads:", "", "| model | fields |", "|---|---|"]
    for part in payload_parts():
        out.append(f"| `{part.__name__}` | `{fields(part)}` |")
    return "\n".join(out) + "\n", problems


def main() -> int:
    text, problems = render()
    for problem in problems:
        print(f"message_table: {problem}", file=sys.stderr)
    sys.stdout.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
