#!/usr/bin/env python3
"""Runs clang's thread-safety analysis over every translation unit of every
target that can hold a lock contract.

Usage: check-thread-safety.py BUILD_DIR [JOBS]

BUILD_DIR is a build tree configured with clang, -DKMSFS_THREAD_SAFETY=ON and
-DKMSFS_WERROR=ON (its compile_commands.json holds -Wthread-safety -Werror).
The analysis runs in clang's front end, so each unit is compiled with
-fsyntax-only: the same diagnostics as a full build, without code generation
or linking. Exits 1 if any unit has a warning or error, printing them.

Every lock annotation (KMSFS_GUARDED_BY, KMSFS_REQUIRES, ...) is defined in
base/mutex.h, so a unit that does not include it, directly or through the
project's own headers, has nothing for the analysis to check: such units are
skipped (about two thirds of them, most of them tests). Includes are followed
textually and every `#include "..."` counts, inside `#if` or not, so a unit is
never skipped for a header it might include.
"""
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def check(entry):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg not in ("-c", "-MD") and not arg.startswith(("-MT", "-MF")):
            out.append(arg)
    # -MT/-MF take their value as the next argument when written apart.
    cleaned = []
    drop_next = False
    for arg in out:
        if drop_next:
            drop_next = False
            continue
        if arg in ("-MT", "-MF"):
            drop_next = True
            continue
        cleaned.append(arg)
    result = subprocess.run(cleaned + ["-fsyntax-only"], cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"], result.returncode, result.stderr


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def project_includes(path, cache, repo=REPO):
    """The project's headers `path` names in its own #include "..." lines."""
    if path not in cache:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        found = set()
        for name in INCLUDE.findall(text):
            for base in (repo, os.path.dirname(path)):
                candidate = os.path.normpath(os.path.join(base, name))
                if os.path.isfile(candidate):
                    found.add(candidate)
                    break
        cache[path] = found
    return cache[path]


def can_hold_lock_contracts(path, cache, repo=REPO):
    """Whether `path` includes base/mutex.h, directly or through project headers."""
    annotations = {os.path.join(repo, "base", "mutex.h")}
    seen, stack = set(), [os.path.normpath(path)]
    while stack:
        for header in project_includes(stack.pop(), cache, repo):
            if header in annotations:
                return True
            if header not in seen:
                seen.add(header)
                stack.append(header)
    return False


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir = sys.argv[1]
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with open(f"{build_dir}/compile_commands.json") as f:
        units = json.load(f)
    if not any("-Wthread-safety" in (u.get("command") or " ".join(u.get("arguments", []))) for u in units):
        print(f"{build_dir} is not configured with -DKMSFS_THREAD_SAFETY=ON", file=sys.stderr)
        return 2
    cache = {}
    checked = [u for u in units if can_hold_lock_contracts(os.path.join(u["directory"], u["file"]), cache)]
    failed = 0
    with ThreadPoolExecutor(jobs) as pool:
        for name, code, err in pool.map(check, checked):
            if code != 0 or err.strip():
                failed += 1
                print(f"--- {name}\n{err}", flush=True)
    print(f"thread-safety analysis: {len(checked)} of {len(units)} translation units include base/mutex.h "
          f"(the others hold no lock contract), {failed} with findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
