#!/usr/bin/env python3
"""Validates a JSON document against a published JSON Schema with Debian's python3-jsonschema.

    validate_json.py SCHEMA DOCUMENT [--items]

With --items, DOCUMENT is a JSON array and each element is validated on its own (data·inclusion
publishes one schema per structure and per service). Formats (date, email, uri when rfc3987 is
installed) are checked. Every error is printed with the element's index and its path; the exit
status is 1 when there is one, 2 when a file cannot be read.
"""
import json
import sys

import jsonschema


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    try:
        with open(args[0], encoding="utf-8") as f:
            schema = json.load(f)
        with open(args[1], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"cannot read: {e}", file=sys.stderr)
        sys.exit(2)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=jsonschema.FormatChecker())
    items = doc if "--items" in sys.argv else [doc]
    errors = 0
    for i, item in enumerate(items):
        for e in validator.iter_errors(item):
            errors += 1
            where = "/".join(str(p) for p in e.absolute_path)
            label = item.get("id", "") if isinstance(item, dict) else ""
            print(f"[{i}] {label} /{where}: {e.message[:300]}")
    print(f"{len(items)} checked, {errors} errors against {args[0]}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
