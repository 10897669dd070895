#!/usr/bin/env python3
"""Lists the public RPCs that no test calls on an error path; exits 1 when there is one.

An RPC counts as covered when some test (a TEST/TEST_F body in a C++ *_itest.cpp / *_test.cpp,
or a test function in tests/e2e/*.py) both calls it and asserts a status code other than OK.
Run by the README's test command: a new RPC without an error-path test fails the build.

Usage: tools/rpc_error_coverage.py [repository root]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])

RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(", re.M)
SERVICE = re.compile(r"^service\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
CPP_TEST = re.compile(r"^TEST(?:_F|_P)?\s*\(", re.M)
CPP_CALL = re.compile(r"(?:->|\.)(\w+)\s*\(\s*&")  # stub->Method(&ctx, ...) / stub.Method(&ctx ...)
CPP_ERROR = re.compile(r"StatusCode::(?!OK\b)[A-Z_]+")
PY_TEST = re.compile(r"^[ \t]*def (test_\w+|main)\b", re.M)  # functions and unittest methods
PY_CALL = re.compile(r"\.(\w+)\(")
PY_ERROR = re.compile(r"StatusCode\.(?!OK\b)[A-Z_]+")


def rpcs():
    out = {}
    for proto in sorted((ROOT / "proto" / "passerelle").rglob("*.proto")):
        text = proto.read_text(encoding="utf-8")
        for service, body in SERVICE.findall(text):
            for name in RPC.findall(body):
                out[name] = f"{proto.relative_to(ROOT)} {service}"
    return out


def blocks(text, start):
    marks = [m.start() for m in start.finditer(text)] + [len(text)]
    return [text[a:b] for a, b in zip(marks, marks[1:])]


HELPER = re.compile(r"(?:auto\s+(\w+)\s*=\s*\[[^\]]*\]\s*\([^)]*\)[^{;]*|(\w+)\s*\([^;{()]*(?:\([^()]*\)[^;{()]*)*\)\s*(?:const\s*)?)\{")
BARE_CALL = re.compile(r"\b(\w+)\s*\(")


def body(text, open_brace):
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace:i]
    return text[open_brace:]


def helpers(text):
    """Functions and lambdas of a test file: the RPCs each calls, and those that assert a
    status other than OK (e.g. an ExpectRefused(status, field) helper)."""
    calls_of, asserting = {}, set()
    for m in HELPER.finditer(text):
        name = m.group(1) or m.group(2)
        if name in ("if", "for", "while", "switch", "catch", "TEST", "TEST_F", "TEST_P"):
            continue
        code = body(text, m.end() - 1)
        calls = set(CPP_CALL.findall(code))
        if calls:
            calls_of.setdefault(name, set()).update(calls)
        if CPP_ERROR.search(code):
            asserting.add(name)
    return calls_of, asserting


def covered():
    seen = set()
    for path in list(ROOT.glob("services/**/*test.cpp")) + list(ROOT.glob("libs/**/*test.cpp")):
        text = path.read_text(encoding="utf-8")
        named, asserting = helpers(text)
        for block in blocks(text, CPP_TEST):
            bare = BARE_CALL.findall(block)
            if CPP_ERROR.search(block) or any(call in asserting for call in bare):
                seen.update(CPP_CALL.findall(block))
                for call in bare:
                    seen.update(named.get(call, ()))
    for path in ROOT.glob("tests/e2e/*.py"):
        for block in blocks(path.read_text(encoding="utf-8"), PY_TEST):
            if PY_ERROR.search(block):
                seen.update(PY_CALL.findall(block))
    return seen


def main():
    all_rpcs = rpcs()
    seen = covered()
    missing = sorted(name for name in all_rpcs if name not in seen)
    print(f"{len(all_rpcs) - len(missing)} of {len(all_rpcs)} public RPCs have an error-path test")
    for name in missing:
        print(f"  no error-path test: {name} ({all_rpcs[name]})")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
