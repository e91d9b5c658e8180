"""Calculated query cost, as Shopify's rate-limit page describes it, and the points bucket.

- A scalar or enum field costs 0, an object 1; a mutation field costs 10.
- A connection costs 2 plus, for each node asked for (`first`/`last`), 1 and what its
  selection costs. The edges/node/nodes/pageInfo wrappers cost nothing.
- The requested cost is worked out from the document before it runs and reserved; the actual
  cost counts the nodes returned, and the difference is refunded.
- A document whose requested cost is over 1,000 is refused (MAX_COST_EXCEEDED).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10
_WRAPPERS = {"edges", "node", "nodes", "pageInfo", "cursor"}


class _Walker:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def fields(
        self, selection: SelectionSetNode | None, parent: GraphQLNamedType
    ) -> list[tuple[FieldNode, GraphQLField]]:
        found: list[tuple[FieldNode, GraphQLField]] = []
        if selection is None:
            return found
        for node in selection.selections:
            if isinstance(node, FieldNode):
                if node.name.value.startswith("__"):
                    continue
                if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    field = parent.fields.get(node.name.value)
                    if field is not None:
                        found.append((node, field))
            elif isinstance(node, InlineFragmentNode):
                target = (
                    self.schema.get_type(node.type_condition.name.value)
                    if node.type_condition
                    else parent
                )
                if target is not None:
                    found += self.fields(node.selection_set, target)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    if target is not None:
                        found += self.fields(fragment.selection_set, target)
        return found

    def argument(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, dict(self.variables))
        return None

    def selection_cost(
        self, selection: SelectionSetNode | None, parent: GraphQLNamedType, data: Any
    ) -> float:
        total = 0.0
        for node, field in self.fields(selection, parent):
            key = node.alias.value if node.alias else node.name.value
            value = data.get(key) if isinstance(data, Mapping) else None
            total += self.field_cost(node, field, value, measured=isinstance(data, Mapping))
        return total

    def field_cost(self, node: FieldNode, field: GraphQLField, value: Any, measured: bool) -> float:
        named = get_named_type(field.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return 0.0
        if named.name.endswith("Connection"):
            return self.connection_cost(node, named, value, measured)
        nullable = get_nullable_type(field.type)
        if isinstance(nullable, GraphQLList):
            if measured:
                items = value if isinstance(value, list) else []
                return sum(
                    1 + self.selection_cost(node.selection_set, self.runtime(named, i), i)
                    if isinstance(i, Mapping)
                    else 1
                    for i in items
                )
            # nodes(ids:) costs per id asked for; a list with `first` (Order.refunds) per item.
            ids, first = self.argument(node, "ids"), self.argument(node, "first")
            count = len(ids) if isinstance(ids, list) else first if isinstance(first, int) else 1
            return count * (1 + self.selection_cost(node.selection_set, named, None))
        if measured and value is None:
            return 0.0
        return 1 + self.selection_cost(
            node.selection_set, self.runtime(named, value) if measured else named, value
        )

    def runtime(self, named: GraphQLNamedType, value: Any) -> GraphQLNamedType:
        if isinstance(named, GraphQLInterfaceType) and isinstance(value, Mapping):
            typename = value.get("__typename")
            concrete = self.schema.get_type(typename) if isinstance(typename, str) else None
            if concrete is not None:
                return concrete
        return named

    def connection_cost(
        self, node: FieldNode, connection: GraphQLNamedType, value: Any, measured: bool
    ) -> float:
        assert isinstance(connection, GraphQLObjectType)
        node_type = get_named_type(connection.fields["nodes"].type)
        inner_selections: list[SelectionSetNode] = []
        for child, _field in self.fields(node.selection_set, connection):
            if child.name.value == "nodes" and child.selection_set:
                inner_selections.append(child.selection_set)
            elif child.name.value == "edges" and child.selection_set:
                edge_type = get_named_type(connection.fields["edges"].type)
                for grand, _f in self.fields(child.selection_set, edge_type):
                    if grand.name.value == "node" and grand.selection_set:
                        inner_selections.append(grand.selection_set)
        if not measured:
            size = self.argument(node, "first") or self.argument(node, "last") or 0
            inner = max(
                (self.selection_cost(s, node_type, None) for s in inner_selections), default=0.0
            )
            return 2 + int(size) * (1 + inner)
        items = _connection_items(value)
        total = 2.0
        for item in items:
            total += 1 + max(
                (self.selection_cost(s, node_type, item) for s in inner_selections), default=0.0
            )
        return total


def _connection_items(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        return []
    if isinstance(value.get("nodes"), list):
        return list(value["nodes"])
    return [edge.get("node") for edge in value.get("edges") or [] if isinstance(edge, Mapping)]


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    data: Any = None,
) -> int:
    """The requested cost (data None) or the actual cost of the answer `data`."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    walker = _Walker(schema, document, variables)
    if operation.operation is OperationType.MUTATION:
        root = schema.mutation_type
        assert root is not None
        return MUTATION_COST * len(walker.fields(operation.selection_set, root))
    root_query = schema.query_type
    assert root_query is not None
    measured = data if isinstance(data, Mapping) else None
    if data is not None and measured is None:
        return 0
    cost = walker.selection_cost(operation.selection_set, root_query, measured)
    return max(1, math.ceil(cost))


class PointsBucket:
    """The leaky bucket of points per app and shop: `maximum` deep, refilled at `restore_rate`
    points per second."""

    def __init__(
        self, maximum: float, restore_rate: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._clock = clock
        self._available = maximum
        self._at = clock()
        # What the bucket saw, for benches and tests: queries refused (THROTTLED), points kept.
        self.refused = 0
        self.spent = 0.0

    def available(self) -> float:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def take(self, points: float) -> bool:
        if self.available() < points:
            self.refused += 1
            return False
        self._available -= points
        self.spent += points
        return True

    def refund(self, points: float) -> None:
        points = max(0.0, points)
        self.spent -= points
        self._available = min(self.maximum, self.available() + points)

    def drain(self) -> None:
        self.available()
        self._available = 0.0

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": float(math.floor(self.available())),
            "restoreRate": float(self.restore_rate),
        }

    def meter(self) -> dict[str, float]:
        """The bucket now, with the queries it refused and the points it kept so far."""
        return {**self.status(), "throttled": self.refused, "pointsSpent": self.spent}
