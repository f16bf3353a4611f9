#!/usr/bin/python3
"""Runs one integration test module as CTest does, stricter than `python3 -m unittest`:

  run_module.py MODULE       e.g. run_module.py test_uplink_tls (from tests/integration)
  run_module.py --self-test  proves each rule below fails a module that breaks it

The module fails (exit 1) when a test fails or errors, when no test ran, when every test was
skipped (a missing binary or package is an error, never a reason to pass), and when a process
it started is still running once its tests are done (it is killed and named)."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest


def children():
    """{pid: command line} of this process's live children (not zombies)."""
    found = {}
    pid = os.getpid()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except FileNotFoundError:
            continue
        for kid in kids:
            try:
                with open(f"/proc/{kid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{kid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if state != "Z":
                found[kid] = cmdline
    return found


def kill_leftovers():
    """Kills live children; their descriptions (empty when there were none)."""
    leftovers = children()
    if not leftovers:
        return []
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for pid in leftovers:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.02)
    return [f"pid {pid}: {cmd}" for pid, cmd in sorted(leftovers.items())]


def run(module):
    sys.path.insert(0, os.getcwd())
    suite = unittest.defaultTestLoader.loadTestsFromName(module)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    problems = []
    if not result.wasSuccessful():
        problems.append("tests failed")
    if result.testsRun == 0:
        problems.append("no test ran")
    elif len(result.skipped) == result.testsRun:
        problems.append(f"every test was skipped ({result.testsRun}): a missing binary or "
                        "package is an error, not a skip")
    leftovers = kill_leftovers()
    if leftovers:
        problems.append("processes left running after the tests (killed now):\n  "
                        + "\n  ".join(leftovers))
    if problems:
        print(f"run_module: {module} FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"run_module: {module}: {result.testsRun} tests, {len(result.skipped)} skipped",
          file=sys.stderr)
    return 0


SELF_TEST = {
    # module text -> exit status run_module must give
    "passes": ("import unittest\nclass T(unittest.TestCase):\n"
               "    def test_a(self): pass\n"
               "    @unittest.skip('one skip among others is allowed')\n"
               "    def test_b(self): pass\n", 0),
    "fails": ("import unittest\nclass T(unittest.TestCase):\n"
              "    def test_a(self): self.fail('no')\n", 1),
    "all_skipped": ("import unittest\n@unittest.skip('meterbridge not built')\n"
                    "class T(unittest.TestCase):\n"
                    "    def test_a(self): pass\n    def test_b(self): pass\n", 1),
    "empty": ("import unittest\nclass T(unittest.TestCase):\n    pass\n", 1),
    "broken_import": ("import no_such_module_anywhere\n", 1),
    "leaks": ("import subprocess, unittest\nclass T(unittest.TestCase):\n"
              "    def test_a(self):\n"
              "        p = subprocess.Popen(['sleep', '300'])\n"
              "        open('leaked.pid', 'w').write(str(p.pid))\n", 1),
}


def self_test():
    bad = []
    with tempfile.TemporaryDirectory(prefix="run-module-self-test-") as d:
        for name, (text, want) in SELF_TEST.items():
            with open(os.path.join(d, f"case_{name}.py"), "w") as f:
                f.write(textwrap.dedent(text))
            r = subprocess.run([sys.executable, os.path.abspath(__file__), f"case_{name}"], cwd=d,
                               capture_output=True, text=True, timeout=60)
            verdict = "ok" if r.returncode == want else "WRONG"
            print(f"{verdict}: case_{name}: exit {r.returncode}, want {want}")
            if r.returncode != want:
                bad.append(name)
                print(textwrap.indent(r.stdout + r.stderr, "    "))
        with open(os.path.join(d, "leaked.pid")) as f:
            leaked = int(f.read())
        if os.path.exists(f"/proc/{leaked}"):
            bad.append(f"leaks: its sleep (pid {leaked}) survived")
            os.kill(leaked, signal.SIGKILL)
    if bad:
        print(f"run_module self-test: {len(bad)} case(s) wrong: {', '.join(bad)}")
        return 1
    print(f"run_module self-test: all {len(SELF_TEST)} cases right")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
