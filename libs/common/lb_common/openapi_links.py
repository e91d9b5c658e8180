"""OpenAPI links from a list route to the item routes its rows lead to (e.g. `GET /deliveries`
to `GET /deliveries/{delivery_id}/body`): a client, and `make fuzz-api`'s stateful phase, can
follow them with real ids instead of guessing.

    @router.get("/deliveries", responses=links_to(body=Link("GET", "/deliveries/{delivery_id}/body",
                                                         delivery_id="$response.body#/0/id")))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Link:
    method: str
    path: str
    #: parameter name -> OpenAPI runtime expression, e.g. "$response.body#/0/id"
    parameters: dict[str, str] = field(default_factory=dict)

    def __init__(self, method: str, path: str, **parameters: str) -> None:
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "parameters", parameters)

    def operation_ref(self) -> str:
        # A JSON pointer into the same document: "/" in the path is escaped as "~1".
        return f"#/paths/{self.path.replace('~', '~0').replace('/', '~1')}/{self.method.lower()}"


def links_to(**targets: Link) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its 200 answer links to each target (merged by FastAPI with
    the answer's generated schema)."""
    return {
        200: {
            "description": "Successful Response",
            "links": {
                name: {"operationRef": link.operation_ref(), "parameters": link.parameters}
                for name, link in targets.items()
            },
        }
    }


__all__ = ["Link", "links_to"]
