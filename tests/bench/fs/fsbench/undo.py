"""Undoing what the run did: mounts, daemons, a tmpfs, the work directory.

Each step that leaves something behind registers how to undo it *before* it
acts (an undo step checks whether there is anything to undo), so an exception
or a signal at any point leaves nothing behind. unwind() runs the steps in
reverse order, each to the end even when another fails, with SIGINT, SIGTERM
and SIGHUP ignored so that a second Ctrl-C cannot cut the cleanup short.
"""
import signal
import sys
import traceback

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """A stop signal arrived; the run ends with exit code 128 + signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def raise_on_stop_signals():
    """From now on a stop signal raises Interrupted in the main thread."""
    for s in STOP_SIGNALS:
        signal.signal(s, _raise_interrupted)


class UndoStack:
    def __init__(self, say=None):
        self._steps = []  # [what, fn], oldest first
        self._say = say or (lambda msg: sys.stderr.write("bench: %s\n" % msg))

    def push(self, what, fn):
        """Registers `fn` (no arguments) to run at unwind(); returns a handle for run()."""
        step = [what, fn]
        self._steps.append(step)
        return step

    def run(self, handle):
        """Runs one registered step now (and not again at unwind). Errors propagate."""
        if handle in self._steps:
            self._steps.remove(handle)
            handle[1]()

    def forget(self, handle):
        """Drops a step without running it (what it undoes is gone already)."""
        if handle in self._steps:
            self._steps.remove(handle)

    def __len__(self):
        return len(self._steps)

    def unwind(self, down_to=0):
        """Runs the steps, newest first, until `down_to` remain (a len() taken
        earlier: what was registered since); returns how many failed (each is
        reported)."""
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
        failures = 0
        try:
            while len(self._steps) > down_to:
                what, fn = self._steps.pop()
                try:
                    fn()
                except Exception as e:  # every step gets its turn
                    failures += 1
                    self._say("cleanup: %s failed: %s" % (what, e))
                    if not str(e):
                        traceback.print_exc()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return failures
