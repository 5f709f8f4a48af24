#!/usr/bin/env python3
"""Runs clang's thread-safety analysis over every translation unit of every target.

Usage: check-thread-safety.py BUILD_DIR [JOBS]

BUILD_DIR is a build tree configured with clang, -DKMSFS_THREAD_SAFETY=ON and
-DKMSFS_WERROR=ON (its compile_commands.json holds -Wthread-safety -Werror).
The analysis runs in clang's front end, so each unit is compiled with
-fsyntax-only: the same diagnostics as a full build, without code generation
or linking. Exits 1 if any unit has a warning or error, printing them.
"""
import json
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
    failed = 0
    with ThreadPoolExecutor(jobs) as pool:
        for name, code, err in pool.map(check, units):
            if code != 0 or err.strip():
                failed += 1
                print(f"--- {name}\n{err}", flush=True)
    print(f"thread-safety analysis: {len(units)} translation units, {failed} with findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
