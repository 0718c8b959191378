#!/usr/bin/env python3
"""The domain libraries include no wire, database or outer-layer headers.

server/queue and server/throttle are the coordinator's domain: they build
into sluice_queue and sluice_throttle, which link sluice_base only. A
header found on the system include path (grpcpp, pqxx, protobuf) would
still compile there, so the rule is also checked at the source: no such
#include in those folders, and neither reaches into the layers that wrap it
(store, service, workflows).

Usage: check_layering.py <repository root>. Exit 1 listing every violation.
"""
import pathlib
import re
import sys

DOMAIN = ["server/queue", "server/throttle"]
FORBIDDEN = [
    (re.compile(r'^#include\s+[<"]grpc'), "gRPC"),
    (re.compile(r'^#include\s+[<"]google/protobuf'), "protobuf"),
    (re.compile(r'^#include\s+[<"]pqxx'), "libpqxx"),
    (re.compile(r'^#include\s+"sluice/v1/'), "wire types"),
    (re.compile(r'^#include\s+"server/(store|service|workflows|scheduler|ops)/'), "outer layer"),
    (re.compile(r'^#include\s+"server/coordinator'), "outer layer"),
    (re.compile(r'^#include\s+"common/(grpc_|time_util|env_flags)'), "sluice_common (wire)"),
]


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    problems = []
    checked = 0
    for folder in DOMAIN:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            checked += 1
            for n, line in enumerate(path.read_text().splitlines(), 1):
                for pattern, what in FORBIDDEN:
                    if pattern.search(line):
                        problems.append(f"{path.relative_to(root)}:{n}: {what}: {line.strip()}")
    if checked == 0:
        print("no domain sources found under", root)
        return 1
    for p in problems:
        print(p)
    print(f"{checked} domain files checked, {len(problems)} layering violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
