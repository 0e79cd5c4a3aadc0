"""A Jupyter kernel that starts in milliseconds: forked from a process that has imported torch.

The notebook pages of the site each run in a fresh Python kernel. Starting
one costs about two seconds before the first cell does anything: half a
second for the kernel itself and one and a half for ``import torch``,
matplotlib and the site's package, on each of 70 pages. Here one *server*
process pays those imports once; each kernel is a ``fork`` of it, so every
page still gets a process of its own (nothing leaks from one page to the
next) but starts with the imports already done.

Two commands::

    python tools/preloaded_kernel.py serve SOCKET   # the server; conf.py starts and stops it
    python tools/preloaded_kernel.py launch -f CONNECTION_FILE   # what the kernelspec runs

``launch`` is what Jupyter starts as "the kernel". It sends the server its
connection file, working directory, environment and standard streams; the
server forks a child that becomes an ordinary ``ipykernel`` on that
connection file. ``launch`` then stays alive until the child exits, passing
on interrupts, so Jupyter's usual process handling (interrupt, shutdown,
kill) works; a child whose ``launch`` has gone exits too. Without a server
(``T2T_KERNEL_SERVER`` unset or not listening) ``launch`` simply becomes a
plain ``ipykernel``: the kernelspec works anywhere.

Only what is safe to fork is imported in advance: no thread, event loop or
ZeroMQ context exists in the server (checked before it listens), and no
pyplot figure is made there, so that the notebook's inline backend is loaded
in the child and hooks into the child's own IPython shell.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

SERVER_VARIABLE = "T2T_KERNEL_SERVER"  # the server's Unix socket, for ``launch``
ROOT = Path(__file__).resolve().parents[1]

#: The costly imports of the site's code, besides every module of ``snippets``
#: (:func:`snippet_modules`), which a process that forks pages or examples makes
#: once: ``torch.testing.assert_close`` imports torch.distributed.tensor on its
#: first call; building on the meta device or a first optimizer step imports
#: torch._dynamo; loading the digits or the moons imports scikit-learn's data
#: sets. The smoke runs' fork server (``tests/test_gallery_smoke.py``) uses it too.
SITE_IMPORTS = (
    "numpy",
    "torch",
    "torch._dynamo",
    "torch.distributed.tensor",
    "matplotlib",
    "matplotlib.pyplot",
    "sklearn.datasets",
)
# Imported once by the server: the above, and the kernel itself.
PRELOAD = (*SITE_IMPORTS, "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def write_kernelspec(folder: Path, name: str) -> None:
    """Write kernelspec ``name`` under ``folder/kernels``; put ``folder`` on ``JUPYTER_PATH``."""
    spec = folder / "kernels" / name / "kernel.json"
    spec.parent.mkdir(parents=True)
    script = str(Path(__file__).resolve())
    kernel = {
        "argv": [sys.executable, script, "launch", "-f", "{connection_file}"],
        "display_name": "Python 3 (preloaded)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    spec.write_text(json.dumps(kernel), encoding="utf-8")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(folder), os.environ.get("JUPYTER_PATH")])
    )


def start_server(path: str) -> subprocess.Popen:
    """Start ``serve path`` in a new process and point ``launch`` at it (``SERVER_VARIABLE``)."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "serve", path], cwd=ROOT
    )
    os.environ[SERVER_VARIABLE] = path
    return server


def preload() -> None:
    """Import the heavy modules and draw one figure (fonts, caches) before any fork.

    Raises ``RuntimeError`` if that left a second thread running (forking
    would copy its locks, not the thread) or imported the inline backend,
    which must hook into the child's own shell.
    """
    import importlib
    import io

    # matplotlib reads the backend when it is imported: name the notebook's inline
    # backend now, as ipykernel would; pyplot loads it at the child's first figure
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    sys.path.insert(0, str(ROOT))
    for name in (*PRELOAD, *snippet_modules()):
        importlib.import_module(name)
    sys.path.remove(str(ROOT))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))  # not pyplot: that would load the inline backend
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], label="$x$")
    axes.set_title("warm-up")
    axes.legend()
    figure.savefig(io.BytesIO(), format="png")
    if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
        raise RuntimeError("a preloaded module started a thread; forking the server is unsafe")
    if INLINE_BACKEND.removeprefix("module://") in sys.modules:
        raise RuntimeError("the inline backend was imported before the kernel's shell exists")


def snippet_modules() -> list[str]:
    """Every module of the site's package, by name."""
    names = []
    for path in sorted((ROOT / "snippets").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names.append(module.removesuffix(".__init__"))
    return names


def serve(path: str) -> None:
    """Listen on the Unix socket ``path``; fork a kernel for each ``launch`` that connects.

    Listens before it preloads: a ``launch`` that comes early waits in the
    queue instead of starting a slow kernel. If preloading fails the server
    exits, and every waiting ``launch`` starts an ordinary kernel. Exits when
    the process that started it has gone.
    """
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the build, which stops us
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    preload()
    while os.getppid() == parent:
        ready, _, _ = select.select([server], [], [], 0.5)
        if not ready:
            continue
        connection, _ = server.accept()
        with connection:
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
            request = json.loads(message.decode("utf-8"))
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                server.close()
                connection.close()
                _become_kernel(request, fds)  # never returns
            connection.sendall(json.dumps({"pid": pid}).encode("utf-8"))
            for fd in fds:
                os.close(fd)


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take the launcher's streams, folder and environment; run ipykernel."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [sys.argv[0], *request["argv"]]
        _exit_with(request["launcher"])
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.log.addFilter(_without_the_tcp_notice)
        # read from the environment when ipykernel was imported, i.e. in the server: read it again
        app.parent_handle = int(os.environ.get("JPY_PARENT_PID") or 0)
        app.initialize(request["argv"])
        app.start()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


#: how ipykernel 7.4 begins the notice it logs whenever a kernel starts over TCP
TCP_NOTICE = "Kernel is running over TCP without encryption"


def _without_the_tcp_notice(record: logging.LogRecord) -> bool:
    """Drop ipykernel's notice that the kernel talks over TCP without encryption.

    Jupyter starts the kernel on the loopback interface and signs every message
    with the key of a connection file that only this user can read; the notice
    would be printed once for each of the 70 notebook pages of every build.
    """
    return not str(record.msg).startswith(TCP_NOTICE)


def _exit_with(pid: int) -> None:
    """Exit this process as soon as process ``pid`` (the launcher) has exited."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)

    def watch() -> None:
        select.select([handle], [], [])
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="launcher-watch").start()


def launch(argv: list[str]) -> None:
    """Ask the server for a kernel on these arguments; wait for it; pass on signals."""
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "launcher": os.getpid()}
    reply = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(os.environ.get(SERVER_VARIABLE, ""))
            socket.send_fds(client, [json.dumps(request).encode("utf-8")], [0, 1, 2])
            while chunk := client.recv(4096):
                reply += chunk
    except OSError:
        pass
    if not reply:  # no server, or it could not preload: an ordinary kernel
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    pid = json.loads(reply.decode("utf-8"))["pid"]
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return

    def forward(received: int, _frame: object) -> None:
        try:
            os.kill(pid, received)
        except ProcessLookupError:
            pass

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, forward)
    select.select([handle], [], [])  # returns when the kernel has exited


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "serve":
        serve(args[0])
    elif command == "launch":
        launch(args)
    else:
        raise SystemExit(f"unknown command {command!r}: expected 'serve' or 'launch'")
