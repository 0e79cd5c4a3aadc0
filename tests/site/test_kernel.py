"""The preloaded kernel that runs the notebook pages (tools/preloaded_kernel.py).

It must give a page exactly what an ordinary kernel gives, in a process of its
own, and behave like one when interrupted, shut down or orphaned.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import preloaded_kernel

ROOT = Path(__file__).resolve().parents[2]
SERVER = preloaded_kernel.SERVER_VARIABLE
KERNEL = "t2t-preloaded-test"

PAGE = [
    "import os, torch\nimport matplotlib.pyplot as plt\n"
    "torch.manual_seed(0)\nx = torch.randn(3)\nprint(x)",
    "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot(x.numpy())\nax.set_title('three numbers')",
    "print(os.getcwd())\nprint(os.environ.get('T2T_MARKER'))",
    "from snippets.common.exercises import check\nfrom snippets.fundamentals import exercises",
]


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every output of every cell, without execution counts."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output = {k: v for k, v in output.items() if k != "execution_count"}
            found.append(json.dumps(output, sort_keys=True))
    return found


@pytest.fixture(scope="module")
def kernels(tmp_path_factory) -> Iterator[Path]:
    """A kernelspec for the preloaded kernel and a running server; JUPYTER_PATH set."""
    folder = tmp_path_factory.mktemp("kernel")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", SERVER, "T2T_MARKER")}
    os.environ.pop("JUPYTER_PATH", None)
    preloaded_kernel.write_kernelspec(folder, KERNEL)
    server = preloaded_kernel.start_server(str(folder / "server.sock"))
    os.environ["T2T_MARKER"] = "from the launcher"
    yield folder
    server.terminate()
    server.wait(timeout=10)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run(nb: nbformat.NotebookNode, cwd: Path, **kwargs) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(cwd)}}, **kwargs).execute()
    return nb


def test_a_page_gets_what_an_ordinary_kernel_gives(kernels, tmp_path):
    preloaded = run(notebook(*PAGE), tmp_path)
    ordinary = notebook(*PAGE)
    ordinary.metadata["kernelspec"]["name"] = "python3"
    run(ordinary, tmp_path)
    assert any("image/png" in output for output in outputs(preloaded))  # the figure is shown
    assert outputs(preloaded) == outputs(ordinary)
    assert str(tmp_path) in outputs(preloaded)[-1]  # the page's folder
    assert "from the launcher" in outputs(preloaded)[-1]  # the launcher's environment


def test_each_page_has_a_process_of_its_own(kernels, tmp_path):
    first = run(notebook("import os\nmarker = 1\nprint(os.getpid())"), tmp_path)
    second = run(notebook("import os\nprint(os.getpid())\nprint('marker' in globals())"), tmp_path)
    first_pid = first.cells[0].outputs[0]["text"].split()[0]
    second_pid, leaked = second.cells[0].outputs[0]["text"].split()
    assert first_pid != second_pid
    assert leaked == "False"


def test_the_kernel_is_forked_not_started(kernels, tmp_path):
    """torch is already imported when the first cell runs: that is the point."""
    nb = run(notebook("import sys\nprint('torch' in sys.modules)"), tmp_path)
    assert nb.cells[0].outputs[0]["text"].strip() == "True"


def test_an_interrupt_reaches_the_kernel(kernels, tmp_path):
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=KERNEL, cwd=str(tmp_path))
    try:
        client.execute("import time\ntime.sleep(30)")
        time.sleep(1.0)
        start = time.perf_counter()
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.perf_counter() - start < 10
        # and the kernel is still alive afterwards
        reply = client.execute_interactive("6 * 7", timeout=20, output_hook=lambda _: None)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_kernel_whose_launcher_dies_exits(kernels, tmp_path):
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=KERNEL, cwd=str(tmp_path))
    printed = []

    def keep(message: dict) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(
        "import os\nprint(os.getpid())", timeout=20, output_hook=keep
    )
    assert reply["content"]["status"] == "ok"
    pid = int("".join(printed).split()[0])
    assert pid != manager.provisioner.process.pid  # the kernel is not the launcher
    client.stop_channels()
    manager.provisioner.process.kill()  # SIGKILL: the launcher cannot pass anything on
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the kernel outlived its launcher")
    manager.cleanup_resources()


def test_without_a_server_the_launcher_starts_an_ordinary_kernel(kernels, tmp_path):
    os.environ[SERVER] = str(tmp_path / "no-such.sock")
    try:
        nb = run(notebook("import sys\nprint('torch' in sys.modules)"), tmp_path)
    finally:
        os.environ[SERVER] = str(kernels / "server.sock")
    assert nb.cells[0].outputs[0]["text"].strip() == "False"


def test_the_kernel_does_not_print_the_tcp_notice(kernels, tmp_path, capfd):
    """ipykernel's TCP notice, which an ordinary kernel prints, is not printed for each page."""
    run(notebook("print('ready')"), tmp_path)
    preloaded = capfd.readouterr().err
    ordinary = notebook("print('ready')")
    ordinary.metadata["kernelspec"]["name"] = "python3"
    run(ordinary, tmp_path)
    assert preloaded_kernel.TCP_NOTICE in capfd.readouterr().err  # the notice still exists
    assert preloaded_kernel.TCP_NOTICE not in preloaded
