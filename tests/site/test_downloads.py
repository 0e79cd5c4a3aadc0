"""A reader's download works on a machine without the repository.

The site offers the `snippets` package as a wheel and an sdist under
``package/``; every downloaded notebook and script starts by saying how to
install it. Here the wheel goes into a fresh virtual environment in a
temporary folder outside the repository, and a notebook downloaded from the
gallery runs there with nbclient, importing `snippets` from that environment.
The new environment borrows the already installed third-party packages
(PyTorch and the rest) through a path file, which does not bring along the
repository's own editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from tests.site.conftest import HTML, ROOT

NOTEBOOK = "plot_linear_regression.ipynb"
SCRIPT = "plot_linear_regression.py"


def _download(name: str) -> Path:
    found = sorted((HTML / "_downloads").rglob(name))
    assert found, f"no {name} among the site's downloads"
    return found[0]


def test_the_site_offers_the_package_as_a_wheel_and_an_sdist():
    wheels = sorted((HTML / "package").glob("*.whl"))
    sdists = sorted((HTML / "package").glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"package/ holds {wheels + sdists}"
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "snippets").rglob("*.py")}
    with zipfile.ZipFile(wheels[0]) as wheel:
        assert modules <= set(wheel.namelist()), sorted(modules - set(wheel.namelist()))[:5]
    with tarfile.open(sdists[0]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
        assert modules <= names, sorted(modules - names)[:5]
        assert "pyproject.toml" in names


def test_downloads_start_with_how_to_install_the_package():
    wheel = sorted((HTML / "package").glob("*.whl"))[0].name
    cell = json.loads(_download(NOTEBOOK).read_text())["cells"][0]
    assert cell["cell_type"] == "code" and f"package/{wheel}" in "".join(cell["source"])
    script = _download(SCRIPT).read_text().splitlines()
    assert any(f"package/{wheel}" in line for line in script[:5]), script[:5]


RUN = """
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
where = "import snippets; print('snippets from', snippets.__file__)"
nb.cells.append(nbformat.v4.new_code_cell(where))
nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[2])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths of a virtual environment")
def test_the_wheel_runs_a_downloaded_notebook_outside_the_repository(tmp_path):
    wheel = sorted((HTML / "package").glob("*.whl"))[0]
    env_dir = tmp_path / "reader-env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    borrowed = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the third-party packages of this environment, without its editable install of the repo
    (Path(borrowed) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], check=True
    )
    work = tmp_path / "reader"
    work.mkdir()
    notebook = shutil.copy(_download(NOTEBOOK), work / NOTEBOOK)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    result = subprocess.run(
        [python, "-c", RUN, notebook, work / "executed.ipynb"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    executed = json.loads((work / "executed.ipynb").read_text())
    printed = "".join(
        "".join(out.get("text", ""))
        for cell in executed["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )
    origin = printed.rsplit("snippets from", 1)[-1].strip()
    assert origin.startswith(str(env_dir)), f"snippets came from {origin}, not the new environment"
    assert not origin.startswith(str(ROOT)), origin
