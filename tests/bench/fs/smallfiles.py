#!/usr/bin/env python3
"""Small-file workload for scripts/bench.sh, in one process so that process
start-up does not swamp per-file costs of a few microseconds.

  smallfiles.py create ROOT DIRS FILES_PER_DIR SIZE   # ROOT/dNN/fNNNN, SIZE bytes each
  smallfiles.py read ROOT                             # reads every regular file under ROOT

Every file gets the same random content (one buffer drawn at start); the
filesystems under test neither compress nor deduplicate, so that is fair.
Exits non-zero on the first error, with the path in the message.
"""
import os
import sys


def create(root, dirs, per_dir, size):
    data = os.urandom(size)
    os.mkdir(root)
    for d in range(dirs):
        dpath = os.path.join(root, "d%02d" % d)
        os.mkdir(dpath)
        for f in range(per_dir):
            path = os.path.join(dpath, "f%04d" % f)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                if os.write(fd, data) != size:
                    raise OSError("short write to %s" % path)
            finally:
                os.close(fd)


def read(root):
    total = 0
    files = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            fd = os.open(path, os.O_RDONLY)
            try:
                while True:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
            finally:
                os.close(fd)
            files += 1
    if files == 0:
        raise OSError("no files under %s" % root)
    return files, total


def main(argv):
    if len(argv) == 6 and argv[1] == "create":
        create(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif len(argv) == 3 and argv[1] == "read":
        read(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except OSError as e:
        sys.stderr.write("smallfiles.py: %s\n" % e)
        sys.exit(1)
