"""Bulk operations: `bulkOperationRunQuery` checks the query as Shopify does (a valid query, at
most five connections, connections nested at most two deep), then runs it in the background
over every node, and serves the result as JSONL from a sandbox URL without the token in it.

JSONL as Shopify writes it: one line per node of the outer connection; the nodes of a nested
connection are lines of their own with `__parentId`, the id of the node they belong to, after
that node.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from graphql import (
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    execute_sync,
    get_named_type,
    parse,
    validate,
    visit,
)
from graphql.error import GraphQLSyntaxError

from .graphql_objects import Objects, gid
from .state import Entity, Shop, ShopRegistry, now_text

MAX_CONNECTIONS = 5
MAX_NESTING = 2
MAX_RUNNING = 5  # bulk queries at once per shop and app, from 2026-01
_tasks: set[asyncio.Task[None]] = set()


class _ConnectionCounter(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.count = 0
        self.depth = 0
        self.max_depth = 0
        self._stack: list[bool] = []

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field = self.type_info.get_field_def()
        is_connection = field is not None and get_named_type(field.type).name.endswith("Connection")
        self._stack.append(is_connection)
        if is_connection:
            self.count += 1
            self.depth += 1
            self.max_depth = max(self.max_depth, self.depth)

    def leave_field(self, node: FieldNode, *_: Any) -> None:
        if self._stack.pop():
            self.depth -= 1


def check_query(schema: GraphQLSchema, text: str) -> str | None:
    """Why Shopify would refuse this bulk query, or None."""
    try:
        document = parse(text)
    except GraphQLSyntaxError as exc:
        return f"Invalid bulk query: {exc.message}"
    errors = validate(schema, document)
    if errors:
        return "Invalid bulk query: " + "; ".join(e.message for e in errors)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return "Invalid bulk query: give exactly one query operation."
    if operations[0].variable_definitions:
        return "Invalid bulk query: bulk queries take no variables."
    type_info = TypeInfo(schema)
    counter = _ConnectionCounter(type_info)
    visit(document, TypeInfoVisitor(type_info, counter))
    if counter.count == 0:
        return "Bulk queries must contain at least one connection."
    if counter.count > MAX_CONNECTIONS:
        return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
    if counter.max_depth > MAX_NESTING:
        return f"Bulk queries cannot contain connections nested more than {MAX_NESTING} deep."
    return None


def _is_connection(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and ("edges" in value or "nodes" in value)
        and (
            "pageInfo" in value
            or isinstance(value.get("edges"), list)
            or isinstance(value.get("nodes"), list)
        )
    )


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(connection.get("nodes"), list):
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges") or [] if edge.get("node")]


def _strip(value: Any, children: list[dict[str, Any]]) -> Any:
    """The object without its nested connections, whose nodes go to `children`."""
    if isinstance(value, dict):
        kept = {}
        for key, inner in value.items():
            if _is_connection(inner):
                children.extend(_nodes(inner))
            else:
                kept[key] = _strip(inner, children)
        return kept
    if isinstance(value, list):
        return [_strip(v, children) for v in value]
    return value


def to_jsonl(data: dict[str, Any]) -> tuple[bytes, int, int]:
    """(JSONL, objects, root objects) from the data of the bulk query."""
    lines: list[str] = []
    roots = 0

    def emit(node: dict[str, Any], parent: str | None) -> None:
        children: list[dict[str, Any]] = []
        line = _strip(node, children)
        if parent is not None:
            line["__parentId"] = parent
        lines.append(json.dumps(line, separators=(",", ":")))
        for child in children:
            emit(child, node.get("id"))

    for value in data.values():
        if _is_connection(value):
            for node in _nodes(value):
                roots += 1
                emit(node, None)
    text = "\n".join(lines) + ("\n" if lines else "")
    return text.encode(), len(lines), roots


def public(op: Entity) -> Entity:
    return {k: v for k, v in op.items() if not k.startswith("_")}


def start(
    shop: Shop,
    registry: ShopRegistry,
    schema: GraphQLSchema,
    text: str,
    *,
    base_url: str,
    delay: float,
) -> tuple[Entity | None, list[Entity]]:
    problem = check_query(schema, text)
    if problem:
        return None, [{"code": "INVALID", "field": ["query"], "message": problem}]
    running = [op for op in shop.bulk_operations.values() if op["status"] in ("CREATED", "RUNNING")]
    if len(running) >= MAX_RUNNING:
        return None, [
            {
                "code": "LIMIT_REACHED",
                "field": None,
                "message": f"A maximum of {MAX_RUNNING} bulk queries can run at the same time.",
            }
        ]
    number = shop.next_id()
    op: Entity = {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", number),
        "status": "CREATED",
        "errorCode": None,
        "objectCount": "0",
        "rootObjectCount": "0",
        "fileSize": None,
        "url": None,
        "partialDataUrl": None,
        "query": text,
        "type": "QUERY",
        "createdAt": now_text(),
        "completedAt": None,
    }
    shop.bulk_operations[number] = op
    task = asyncio.get_running_loop().create_task(
        _run(shop, registry, schema, op, base_url=base_url, delay=delay)
    )
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return op, []


async def _run(
    shop: Shop,
    registry: ShopRegistry,
    schema: GraphQLSchema,
    op: Entity,
    *,
    base_url: str,
    delay: float,
) -> None:
    await asyncio.sleep(delay / 2)
    op["status"] = "RUNNING"
    await asyncio.sleep(delay / 2)
    if shop.faults.get("bulk_failed", 0) > 0:
        shop.faults["bulk_failed"] -= 1
        op.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=now_text())
        return
    # The whole shop is read at this moment, as one snapshot.
    result = execute_sync(schema, parse(op["query"]), root_value=Objects(shop, bulk=True).query())
    if result.errors:
        op.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=now_text())
        return
    body, objects, roots = to_jsonl(result.data or {})
    name = uuid.uuid4().hex
    registry.bulk_results[name] = body
    op.update(
        status="COMPLETED",
        objectCount=str(objects),
        rootObjectCount=str(roots),
        fileSize=str(len(body)),
        url=f"{base_url.rstrip('/')}/shopify/bulk-results/{name}.jsonl" if objects else None,
        completedAt=now_text(),
    )
