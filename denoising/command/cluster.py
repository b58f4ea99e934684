"""denoise-images --workers N | --dask ADDRESS: the files spread over Dask workers.

The guarantee: every check of the command (the model's card, the inputs, collisions, results
that exist already) has been made once, in this process, before any file is handed out. Each
worker loads the model once, at its first file, and denoises whole files with the code of a
single-process run (``denoise_file``), so every result is the same bytes. A worker writes its
results itself, atomically, into OUTDIR, which it must reach by the same path (a shared
filesystem; on one machine, any folder): images travel once, and a result's name never holds a
half-written file. A worker that dies has its files redone by the others (Dask's scheduler
retries them, and a retry replaces what an attempt of this very run may have written). A
progress bar counts files as they finish; skipped files are named in input order, as a
single-process run names them.
"""

import argparse
import importlib
import logging
from contextlib import contextmanager
from functools import partial

from tqdm import tqdm

from denoising.errors import UserError


def _distributed():
    """Dask's distributed, an optional extra."""
    try:
        import distributed
    except ImportError:
        raise UserError(
            "--workers/--dask: needs Dask's distributed; pip install '.[cluster]'"
        ) from None
    return distributed


@contextmanager
def connect(args: argparse.Namespace):
    """A client of the scheduler at ``--dask``, or of a LocalCluster of ``--workers`` processes
    (one thread each: TensorFlow spreads a model call over the cores itself)."""
    distributed = _distributed()
    # The scheduler's and nannies' INFO lines would bury the command's own.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if args.dask:
        try:
            client = distributed.Client(args.dask, timeout="30s")
        except OSError as error:
            raise UserError(f"--dask {args.dask}: cannot reach the scheduler ({error})") from None
        with client:
            yield client
        return
    cluster = distributed.LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def call(function: str, *args, **kwargs):
    """On a worker: the function named ``module:name``, imported there by that name (a function
    of a command run as ``python -m`` lives in __main__, which no worker has)."""
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def denoise_on_cluster(found, targets, work: str, settings, args, skipped: list[dict]):
    """Denoise every (file, relative path) of ``found`` into its target on Dask workers, each
    file by ``work(path, target, settings)`` (``module:name`` of a function, with paths the
    workers can reach); files skipped are added to ``skipped``. The images done, and their
    pixels."""
    paths = [str(path.resolve()) for path, _ in found]
    outputs = [str(target.resolve()) for target in targets]
    done = pixels = 0
    reasons: dict[int, str] = {}
    with connect(args) as client:
        task = partial(call, work)
        futures = client.map(task, paths, outputs, settings=settings, pure=False)
        index = {future.key: number for number, future in enumerate(futures)}
        bar = tqdm(total=len(futures), desc="denoising", unit="image", disable=None)
        try:
            for future in _distributed().as_completed(futures):
                count, reason = future.result()
                if count is None:
                    reasons[index[future.key]] = reason
                else:
                    done, pixels = done + 1, pixels + count
                bar.update()
        except BaseException:
            client.cancel(futures)
            raise
        finally:
            bar.close()
    skipped.extend({"file": str(found[i][0]), "reason": reasons[i]} for i in sorted(reasons))
    return done, pixels
