"""Run the examples of every chapter on one pool of workers.

sphinx-gallery runs the examples of one chapter in parallel, then waits for
the slowest of them before it starts the next chapter, so one core idles at
the end of every chapter: the gallery took about 370 s on 2 cores for some
600 s of examples. This extension hands every example of the gallery to one
pool of worker processes as soon as the gallery starts, in the site's order
(the same order sphinx-gallery would take), and lets sphinx-gallery collect
each result when it reaches the example's chapter. sphinx-gallery still writes
every page, index and thumbnail itself; only where each example runs changes.

It stays out of the way (sphinx-gallery runs as it always does) when the
gallery runs serially (``T2T_GALLERY_JOBS=1``), when an example asks to run
alone (``sphinx_gallery_parallel = False``), or when this version of
sphinx-gallery lacks one of the functions it relies on.
"""

from __future__ import annotations

import importlib
import os
import pickle
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# what this module needs from sphinx-gallery: (module, name)
NEEDED = (
    ("sphinx_gallery.gen_gallery", "generate_dir_rst"),
    ("sphinx_gallery.gen_gallery", "get_subsections"),
    ("sphinx_gallery.gen_rst", "generate_file_rst"),
    ("sphinx_gallery.gen_rst", "_get_callables"),
    ("sphinx_gallery.gen_rst", "_split_parallel"),
    ("sphinx_gallery.utils", "_collect_gallery_files"),
)


#: The start of loky's warning when it replaces a worker (see ``GalleryPool.start``).
WORKER_REPLACED = "A worker stopped while some jobs were given to the executor"


def run_example(fname: str, target_dir: str, src_dir: str, gallery_conf: bytes) -> Any:
    """Run one example in a worker: sphinx-gallery's own ``generate_file_rst``.

    ``gallery_conf`` comes pickled, as it was when the gallery started: the
    build goes on changing the dictionary while the pool sends it.
    """
    from sphinx_gallery.gen_rst import generate_file_rst

    return generate_file_rst(fname, target_dir, src_dir, pickle.loads(gallery_conf))


def worker_environment(jobs: int) -> dict[str, str]:
    """The thread limits joblib gives the workers of sphinx-gallery's own parallel runs."""
    try:
        from joblib._parallel_backends import LokyBackend

        return LokyBackend()._prepare_worker_env(n_jobs=jobs)
    except (ImportError, AttributeError, TypeError):
        return {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def _missing() -> list[str]:
    missing = []
    for module, name in NEEDED:
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{name}")
    return missing


def chapter_examples(
    srcdir: Path, examples_dir: Path, gallery_dir: Path, gallery_conf: dict
) -> list[tuple[Path, Path, list[str]]]:
    """Each folder of a gallery with its target folder and examples, as sphinx-gallery orders them.

    The gallery's own folder comes first, then its chapters (``subsection_order``),
    each with its files in ``within_subsection_order``.
    """
    from sphinx_gallery.gen_gallery import get_subsections
    from sphinx_gallery.gen_rst import _get_callables
    from sphinx_gallery.utils import _collect_gallery_files

    folders = [(examples_dir, gallery_dir)] + [
        (examples_dir / name, gallery_dir / name)
        for name in get_subsections(srcdir, examples_dir, gallery_conf)
    ]
    chapters = []
    for src, target in folders:
        key = _get_callables(gallery_conf, "within_subsection_order", src)[0]
        files = sorted(_collect_gallery_files([src], gallery_conf), key=key)
        chapters.append((src, target, files))
    return chapters


class GalleryPool:
    """Every example of a gallery, started at once on ``jobs`` worker processes."""

    def __init__(self, jobs: int) -> None:
        from sphinx_gallery.gen_rst import generate_file_rst

        self.jobs = jobs
        self.run_here = generate_file_rst
        self.futures: dict[tuple[str, str], Future] = {}
        self.executor: Any = None

    def start(
        self, srcdir: Path, examples_dir: Path, gallery_dir: Path, gallery_conf: dict
    ) -> bool:
        """Submit every example of the gallery; False (nothing started) if one must run alone."""
        from joblib.externals.loky import ProcessPoolExecutor
        from joblib.externals.loky.backend.reduction import dumps
        from sphinx_gallery.gen_rst import _split_parallel

        chapters = chapter_examples(srcdir, examples_dir, gallery_dir, gallery_conf)
        for src, _, files in chapters:
            if _split_parallel(files, src, gallery_conf)[0]:
                return False
        # loky replaces a worker whose memory has grown by 300 MB since its first
        # example (an example or two leave that much in the allocator), and warns
        # that "a worker stopped while some jobs were given"; the examples still
        # queued go to the new worker, so nothing is lost and nothing needs saying
        warnings.filterwarnings("ignore", WORKER_REPLACED, UserWarning)
        # a pool of its own: loky's shared one would be torn down under joblib's feet
        self.executor = ProcessPoolExecutor(self.jobs, env=worker_environment(self.jobs))
        frozen = bytes(dumps(gallery_conf))  # with the pickler the pool itself uses
        for src, target, files in chapters:
            (target / "images" / "thumb").mkdir(parents=True, exist_ok=True)
            for fname in files:
                future = self.executor.submit(run_example, fname, str(target), str(src), frozen)
                self.futures[(os.path.normpath(src), fname)] = future
        return True

    def result(self, fname: str, target_dir: Any, src_dir: Any, gallery_conf: dict) -> Any:
        """What ``generate_file_rst`` returns for this example, from the pool when it ran there."""
        future = self.futures.pop((os.path.normpath(src_dir), fname), None)
        if future is None:
            return self.run_here(fname, target_dir, src_dir, gallery_conf)
        try:
            return future.result()
        finally:
            if not self.futures:  # the last example: let the workers go
                self.close()

    def close(self) -> None:
        """Stop the workers; any example not collected yet is stopped with them."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, kill_workers=bool(self.futures))
            self.executor = None


def pooled_generate_dir_rst(app: Sphinx, original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap sphinx-gallery's ``generate_dir_rst`` so that it collects results from the pool."""
    from sphinx_gallery import gen_rst

    pool: GalleryPool | None = None

    def generate_dir_rst(
        src_dir: Any, target_dir: Any, gallery_conf: dict, *args: Any, **kwargs: Any
    ) -> Any:
        nonlocal pool
        is_root = not kwargs.get("is_subsection", args[1] if len(args) > 1 else True)
        if is_root and gallery_conf["parallel"]:
            close()
            pool = GalleryPool(int(gallery_conf["parallel"]))
            started = pool.start(Path(app.srcdir), Path(src_dir), Path(target_dir), gallery_conf)
            if not started:
                pool = None
                logger.info("gallery: an example runs alone; each chapter runs on its own pool")
        if pool is None:
            return original(src_dir, target_dir, gallery_conf, *args, **kwargs)
        # sphinx-gallery's serial path, with each example's result taken from the pool
        parallel, run = gallery_conf["parallel"], gen_rst.generate_file_rst
        gallery_conf["parallel"], gen_rst.generate_file_rst = False, pool.result
        try:
            return original(src_dir, target_dir, gallery_conf, *args, **kwargs)
        finally:
            gallery_conf["parallel"], gen_rst.generate_file_rst = parallel, run

    def close(*_: Any) -> None:
        if pool is not None:
            pool.close()

    generate_dir_rst.close = close  # type: ignore[attr-defined]
    return generate_dir_rst


def _install(app: Sphinx) -> None:
    if missing := _missing():
        logger.info("gallery: each chapter runs on its own pool (no %s)", ", ".join(missing))
        return
    from sphinx_gallery import gen_gallery

    original = getattr(gen_gallery.generate_dir_rst, "__wrapped__", gen_gallery.generate_dir_rst)
    wrapped = pooled_generate_dir_rst(app, original)
    wrapped.__wrapped__ = original  # a second build in this process wraps the original again
    gen_gallery.generate_dir_rst = wrapped
    app.connect("build-finished", wrapped.close)  # after a failure too


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _install, priority=100)  # before sphinx-gallery's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
