#!/usr/bin/env python3
"""Checks the gateway's OpenAPI document with Debian's python3-jsonschema (no network):

- the document against the OpenAPI 3.1 structure in schema-3.1.json beside this file;
- each of its Schema Objects against the JSON Schema 2020-12 meta-schema;
- every local `$ref` resolves.

It first makes sure the check can fail: a few broken copies of the document must be refused.

Usage: validate.py DOCUMENT.json
       validate.py --generator BUILD/services/gateway/gateway_openapi_dump
Exits 1 naming each error's place in the document.
"""
import argparse
import copy
import json
import pathlib
import subprocess
import sys

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent


def schema_objects(node, where="#"):
    """Yields (where, schema) for every Schema Object of an OpenAPI document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "schema" and isinstance(value, (dict, bool)):
                yield here, value
            elif key == "schemas" and where == "#/components" and isinstance(value, dict):
                for name, schema in value.items():
                    yield f"{here}/{name}", schema
            else:
                yield from schema_objects(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schema_objects(value, f"{where}/{i}")


def refs(node, where="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{where}/{i}")


def resolves(doc, ref):
    if not ref.startswith("#/"):
        return False
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def errors(doc, validator):
    """Yields each error as `place: what`."""
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        place = "#/" + "/".join(str(p) for p in e.absolute_path)
        yield f"{place}: {e.message[:300]}"
    meta = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
    for where, schema in schema_objects(doc):
        for e in meta.iter_errors(schema):
            place = where + "".join(f"/{p}" for p in e.absolute_path)
            yield f"{place}: not a JSON Schema 2020-12 schema: {e.message[:300]}"
    for where, ref in refs(doc):
        if not resolves(doc, ref):
            yield f"{where}: $ref {ref} does not resolve"


def broken_copies(doc):
    """Copies of a valid document, each with one mistake the check must find."""
    def first_operation(d):
        for item in d["paths"].values():
            for method in ("get", "post", "patch", "put", "delete"):
                if method in item:
                    return item[method]
        raise SystemExit("the document has no operation")

    def path_parameter(d):
        for item in d["paths"].values():
            for op in item.values():
                for p in op.get("parameters", []):
                    if p.get("in") == "path":
                        return p
        raise SystemExit("the document has no path parameter")

    def no_title(d):
        del d["info"]["title"]

    def optional_path_parameter(d):
        path_parameter(d)["required"] = False

    def response_without_description(d):
        del first_operation(d)["responses"]["400"]
        first_operation(d)["responses"]["400"] = {"content": {}}

    def relative_path(d):
        key = next(iter(d["paths"]))
        d["paths"][key.lstrip("/")] = d["paths"].pop(key)

    def misspelt_field(d):
        first_operation(d)["summmary"] = "x"

    def bad_schema_type(d):
        name = next(iter(d["components"]["schemas"]))
        d["components"]["schemas"][name]["type"] = "strin"

    def dangling_ref(d):
        first_operation(d)["responses"]["400"] = {"$ref": "#/components/responses/Nowhere"}

    for mutate in (no_title, optional_path_parameter, response_without_description,
                   relative_path, misspelt_field, bad_schema_type, dangling_ref):
        broken = copy.deepcopy(doc)
        mutate(broken)
        yield mutate.__name__, broken


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", nargs="?", help="the OpenAPI document (JSON)")
    parser.add_argument("--generator", help="a program printing the document")
    args = parser.parse_args()
    if args.generator:
        text = subprocess.run([args.generator], check=True, capture_output=True, text=True).stdout
    elif args.document:
        text = pathlib.Path(args.document).read_text(encoding="utf-8")
    else:
        parser.error("give a document or --generator")
    doc = json.loads(text)
    structure = json.loads((HERE / "schema-3.1.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(structure)
    validator = jsonschema.Draft202012Validator(structure)

    weak = [name for name, broken in broken_copies(doc)
            if next(errors(broken, validator), None) is None]
    if weak:
        print("the check accepts broken documents: " + ", ".join(weak))
        return 1
    found = list(errors(doc, validator))
    for line in found:
        print(line)
    operations = sum(1 for item in doc.get("paths", {}).values() for k in item if not k.startswith("x-"))
    print(f"{len(doc.get('paths', {}))} paths, {operations} operations, "
          f"{len(doc.get('components', {}).get('schemas', {}))} schemas: "
          f"{len(found)} error(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
