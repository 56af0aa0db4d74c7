"""Every field of the OpenAPI document says what it is: each property of each schema (in the
components and inline, at any depth) and each path, query or header parameter carries a description,
so a client developer never has to guess a value's unit, its null case or its machine names."""

from __future__ import annotations


def _undescribed(schema: dict, where: str) -> list[str]:
    """The properties of `schema` (and of the schemas inside it) without a description."""
    missing = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{where}.{name}"
        if "$ref" not in prop and not prop.get("description"):
            missing.append(path)
        missing += _undescribed(prop, path)
    if isinstance(schema.get("items"), dict):
        missing += _undescribed(schema["items"], f"{where}[]")
    for key in ("allOf", "anyOf", "oneOf"):
        for index, part in enumerate(schema.get(key, [])):
            missing += _undescribed(part, f"{where}.{key}[{index}]")
    return missing


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield f"{method.upper()} {path}", operation


def _parameter_lists(spec):
    """(where, parameters) of each path (its path parameters) and each operation."""
    for path, item in spec["paths"].items():
        yield path, item.get("parameters", [])
    for label, operation in _operations(spec):
        yield label, operation.get("parameters", [])


def test_every_schema_property_has_a_description(client):
    spec = client.get("/api/v1/openapi.json").json
    missing = []
    for name, schema in spec["components"]["schemas"].items():
        missing += _undescribed(schema, name)
    for label, operation in _operations(spec):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            missing += _undescribed(media.get("schema", {}), f"{label} body")
        for code, response in operation["responses"].items():
            for media in response.get("content", {}).values() if isinstance(response, dict) else ():
                missing += _undescribed(media.get("schema", {}), f"{label} {code}")
    assert not missing, "Properties without a description:\n" + "\n".join(missing)


def test_every_parameter_has_a_description(client):
    spec = client.get("/api/v1/openapi.json").json
    missing = [f"{label} {parameter['in']} {parameter['name']}"
               for label, parameters in _parameter_lists(spec) for parameter in parameters
               if "$ref" not in parameter
               and not (parameter.get("description") or parameter.get("schema", {}).get("description"))]  # fmt: skip
    missing += [f"components.parameters {name}" for name, parameter in spec["components"].get("parameters", {}).items()
                if not (parameter.get("description") or parameter.get("schema", {}).get("description"))]  # fmt: skip
    assert not missing, "Parameters without a description:\n" + "\n".join(missing)
