"""`cnnablate` commands, each in its own process, forked from one that has done the imports.

A fresh `python -m cnnablate.cli` spends about five CPU seconds importing torch, Lightning,
Optuna and pandas before it can read its arguments; a corpus of dozens of cases would spend
minutes on that alone. This server pays it once: it imports what the commands import, then
forks one child per request. The child is an ordinary process with its own environment,
working folder, stdout, stderr and exit status, and it runs `cnnablate.cli.main(argv)` as the
installed `cnnablate` script does (`sys.exit(main())`); of the interpreter's shutdown it runs
the exit handlers and skips the teardown of the modules.

Protocol: one JSON request per line on stdin (argv, env, cwd, stdout and stderr file paths,
timeout_s); one JSON answer per line on stdout ({"returncode": N}).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import traceback
from typing import Any


def preload() -> None:
    import cnnablate.cli
    import cnnablate.data.fetch
    import cnnablate.runner.execute
    import cnnablate.runner.status
    import cnnablate.train  # noqa: F401


def redirect(fd: int, path: str) -> None:
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(target, fd)
    os.close(target)


def child(request: dict[str, Any]) -> None:
    """Become the command; never returns."""
    signal.alarm(int(request.get("timeout_s", 120)))  # a hung case dies by SIGALRM
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    redirect(0, os.devnull)
    redirect(1, request["stdout"])
    redirect(2, request["stderr"])
    sys.stdin = open(os.devnull)  # noqa: SIM115 (the process ends right after)
    sys.argv = ["cnnablate", *request["argv"]]
    from cnnablate.cli import main

    try:
        code = main(request["argv"])
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:
        traceback.print_exc()  # what an uncaught exception prints in a fresh interpreter
        code = 1
    exit_like_python(code)


def exit_like_python(code: object) -> None:
    """End as `sys.exit(code)` would, minus the teardown of every module (1.5 s here, and
    nothing of cnnablate's runs in it): exit handlers run, output is flushed."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else int(code is not None and code != ""))


def serve() -> None:
    preload()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
