"""Small-file I/O in this process, so that starting a process per file does
not swamp per-file costs of tens of microseconds.

Every file gets the same random content (one buffer drawn per run); the
filesystems under test neither compress nor deduplicate, so that is fair.
Errors propagate as OSError naming the path.

As a program (tests/bench/fs/profile.sh uses it):
  smallfiles.py create ROOT DIRS FILES_PER_DIR SIZE   # ROOT/dNN/fNNNN, SIZE bytes each
  smallfiles.py read ROOT                             # reads every regular file under ROOT
"""
import os
import sys

_READ_CHUNK = 1 << 16


def _width(count):
    return max(2, len(str(count - 1)))


def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        if os.write(fd, data) != len(data):
            raise OSError("short write to %s" % path)
    finally:
        os.close(fd)


def read_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        total = 0
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                return total
            total += len(chunk)
    finally:
        os.close(fd)


def _make_dirs(root, dirs):
    os.mkdir(root)
    w = _width(dirs)
    paths = [os.path.join(root, "d%0*d" % (w, d)) for d in range(dirs)]
    for p in paths:
        os.mkdir(p)
    return paths


def create_tree(root, dirs, per_dir, data):
    """ROOT/dNN/fNNNN, one directory after the other; returns the files' paths."""
    os.mkdir(root)
    w = _width(dirs)
    paths = []
    for d in range(dirs):
        dpath = os.path.join(root, "d%0*d" % (w, d))
        os.mkdir(dpath)
        for f in range(per_dir):
            path = os.path.join(dpath, "f%04d" % f)
            write_file(path, data)
            paths.append(path)
    return paths


def create_spread(root, dirs, per_dir, data):
    """The same tree shape, made round-robin: each create lands in another
    directory than the one before. Returns the files' paths."""
    dir_paths = _make_dirs(root, dirs)
    paths = []
    for f in range(per_dir):
        for dpath in dir_paths:
            path = os.path.join(dpath, "f%04d" % f)
            write_file(path, data)
            paths.append(path)
    return paths


def churn(root, dirs, creates, live, data, rng):
    """`creates` files, each in a random one of `dirs` directories; once more
    than `live` exist, each create is followed by the delete of a random
    existing file. Returns how many were deleted."""
    dir_paths = _make_dirs(root, dirs)
    existing = []
    deleted = 0
    for i in range(creates):
        path = os.path.join(dir_paths[rng.randrange(dirs)], "f%05d" % i)
        write_file(path, data)
        existing.append(path)
        if len(existing) > live:
            j = rng.randrange(len(existing))
            existing[j], existing[-1] = existing[-1], existing[j]
            os.unlink(existing.pop())
            deleted += 1
    return deleted


def read_walk(root):
    """Reads every regular file under `root` in listing order; returns (files, bytes)."""
    files = total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            total += read_file(os.path.join(dirpath, name))
            files += 1
    if files == 0:
        raise OSError("no files under %s" % root)
    return files, total


def read_paths(paths):
    """Reads the files in the order given, without listing any directory; returns bytes read."""
    return sum(read_file(p) for p in paths)


def main(argv):
    if len(argv) == 6 and argv[1] == "create":
        create_tree(argv[2], int(argv[3]), int(argv[4]), os.urandom(int(argv[5])))
    elif len(argv) == 3 and argv[1] == "read":
        read_walk(argv[2])
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
