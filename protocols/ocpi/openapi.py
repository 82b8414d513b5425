"""The OCPI operations in the OpenAPI document, described from a version's wire types (the machinery both versions use).

The handlers read raw bytes and decode them with the wire Structs, so that every error carries an OCPI status
code; litestar therefore sees neither their request bodies nor their query parameters, and gives every
response its own error body. A version lists what litestar cannot see of each of its operations (`Op`), and
`Describer.describe` adds it to the document litestar generates: each operation's request body (the wire Structs'
JSON schemas, from msgspec), its query parameters, the OCPI ids in its path, and the OCPI envelope of its
responses (with the type of `data` where a success carries some).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

import msgspec
from msgspec import Meta

Count = Annotated[int, Meta(ge=0)]
Query = tuple[tuple[str, Any, bool], ...]  # (name, type, required)

# the OCPI ids a path may carry in every version; any other path parameter is the version's CiString(36) id
PARTY_PARAMETERS: dict[str, Any] = {
    "country_code": Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")],
    "party_id": Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{3}$")],
}


class Op(msgspec.Struct, frozen=True):
    """What litestar cannot see of one operation: its body (a wire type, or a list of them: any one), the `data`
    of its successful answers, its query parameters, and whether it creates (201) as well as replaces (200)."""

    body: Any = None
    body_required: bool = True
    data: Any = None
    query: Query = ()
    creates: bool = False


def page(date_time: Any, date_from_required: bool = False) -> Query:
    return (("date_from", date_time, date_from_required), ("date_to", date_time, False), ("offset", Count, False), ("limit", Count, False))


ERROR_TEXT = (
    "an OCPI error: HTTP 200 with an OCPI 2xxx (or, from a hub, 4xxx) status when the request reached the OCPI layer; "
    "otherwise 400 (malformed JSON), 401 (missing or unknown token), 404 (no such object or path), 405, 408 (body too "
    "slow), 413 (body too large)"
)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class Describer:
    """One version's operations: `paths` says which document paths are its own (every one of them must be in
    `operations`: a KeyError names one that is not)."""

    def __init__(self, operations: dict[tuple[str, str], Op], path_parameters: dict[str, Any], date_time: Any, default_id: Any,
                 prefix: str, paths: Any) -> None:
        self.operations = operations
        self.path_parameters = {**PARTY_PARAMETERS, **path_parameters}
        self.date_time = date_time
        self.default_id = default_id
        self.paths = paths
        types: list[Any] = [date_time, default_id, *self.path_parameters.values()]
        for op in operations.values():
            types += [*(op.body if isinstance(op.body, list) else [op.body]), op.data, *(t for _, t, _ in op.query)]
        types = list(dict.fromkeys(t for t in types if t is not None))
        schemas, components = msgspec.json.schema_components(types, ref_template=f"#/components/schemas/{prefix}{{name}}")
        self.schemas = dict(zip(types, schemas))
        self.components = {f"{prefix}{name}": schema for name, schema in components.items()}
        self.error = _json(self.envelope(), ERROR_TEXT)

    def envelope(self, data: Any = None) -> dict[str, Any]:
        """The OCPI response envelope; `data` of the given type, or anything (errors may carry debugging data)."""
        properties: dict[str, Any] = {
            "status_code": {"type": "integer"}, "status_message": {"type": "string"}, "timestamp": self.schemas[self.date_time],
        }
        if data is not None:
            properties["data"] = self.schemas[data]
        return {"type": "object", "properties": properties, "required": ["status_code", "timestamp"]}

    def _operation(self, operation: dict[str, Any], op: Op) -> None:
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            if parameter["in"] == "path":
                parameter["schema"] = {**self.schemas[self.path_parameters.get(parameter["name"], self.default_id)], "minLength": 1}
        parameters += [{"name": name, "in": "query", "required": required, "schema": self.schemas[type_]} for name, type_, required in op.query]
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            bodies = [self.schemas[t] for t in op.body] if isinstance(op.body, list) else [self.schemas[op.body]]
            schema = bodies[0] if len(bodies) == 1 else {"anyOf": bodies}
            operation["requestBody"] = {"required": op.body_required, "content": {"application/json": {"schema": schema}}}
        success = _json(self.envelope(op.data), "the OCPI envelope; an error in it when the OCPI status is not 1xxx")
        codes = ["200", "201"] if op.creates else [next((c for c in operation["responses"] if c.startswith("2")), "200")]
        operation["responses"] = {**{code: success for code in codes}, "default": self.error}

    def describe(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of litestar's document with this version's operations described."""
        document = copy.deepcopy(document)
        document.setdefault("components", {}).setdefault("schemas", {}).update(self.components)
        for path, item in document["paths"].items():
            if not self.paths(path):
                continue
            for method, operation in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    self._operation(operation, self.operations[(method.upper(), path)])
        return document
