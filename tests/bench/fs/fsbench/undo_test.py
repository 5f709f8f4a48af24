import os
import signal
import unittest

from fsbench import undo


class UndoStackTest(unittest.TestCase):
    def setUp(self):
        self.messages = []
        self.stack = undo.UndoStack(say=self.messages.append)
        self.saved = {s: signal.getsignal(s) for s in undo.STOP_SIGNALS}

    def tearDown(self):
        for s, h in self.saved.items():
            signal.signal(s, h)

    def test_unwind_runs_steps_newest_first(self):
        done = []
        self.stack.push("a", lambda: done.append("a"))
        self.stack.push("b", lambda: done.append("b"))
        self.assertEqual(self.stack.unwind(), 0)
        self.assertEqual(done, ["b", "a"])
        self.assertEqual(len(self.stack), 0)

    def test_unwind_down_to_a_mark_keeps_the_older_steps(self):
        done = []
        self.stack.push("run", lambda: done.append("run"))
        mark = len(self.stack)
        self.stack.push("disk", lambda: done.append("disk"))
        self.stack.push("mount", lambda: done.append("mount"))
        self.assertEqual(self.stack.unwind(down_to=mark), 0)
        self.assertEqual(done, ["mount", "disk"])
        self.assertEqual(len(self.stack), 1)
        self.stack.unwind()
        self.assertEqual(done, ["mount", "disk", "run"])

    def test_a_failing_step_does_not_stop_the_others(self):
        done = []

        def fail():
            raise RuntimeError("umount refused")
        self.stack.push("first", lambda: done.append("first"))
        self.stack.push("broken", fail)
        self.stack.push("last", lambda: done.append("last"))
        self.assertEqual(self.stack.unwind(), 1)
        self.assertEqual(done, ["last", "first"])
        self.assertEqual(self.messages, ["cleanup: broken failed: umount refused"])

    def test_run_undoes_one_step_now_and_not_again(self):
        done = []
        h = self.stack.push("a", lambda: done.append("a"))
        self.stack.run(h)
        self.stack.run(h)
        self.stack.unwind()
        self.assertEqual(done, ["a"])

    def test_forget_drops_a_step_without_running_it(self):
        done = []
        h = self.stack.push("a", lambda: done.append("a"))
        self.stack.forget(h)
        self.stack.unwind()
        self.assertEqual(done, [])

    def test_stop_signal_raises_interrupted_with_its_number(self):
        undo.raise_on_stop_signals()
        with self.assertRaises(undo.Interrupted) as cm:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # a point where the handler has run
        self.assertEqual(cm.exception.signum, signal.SIGTERM)
        self.assertEqual(str(cm.exception), "SIGTERM")

    def test_a_second_ctrl_c_cannot_cut_the_cleanup_short(self):
        undo.raise_on_stop_signals()
        done = []

        def interrupted_step():
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0)
            done.append("interrupted step finished")
        self.stack.push("next", lambda: done.append("next"))
        self.stack.push("interrupted", interrupted_step)
        self.assertEqual(self.stack.unwind(), 0)
        self.assertEqual(done, ["interrupted step finished", "next"])
        # Afterwards stop signals raise again.
        with self.assertRaises(undo.Interrupted):
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0)


if __name__ == "__main__":
    unittest.main()
