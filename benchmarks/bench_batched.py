"""Benchmark k folds of one network trained together (one cic.train.fit call with k networks) against the same
k folds trained one after another (k calls with one network each), same total work, in one process; prints the
speed-up.

The default is the 1000-gene sweep model (``L300,G,L30`` on 1000 genes, the paper's Fig 8 setting) in 10-fold
cross-validation of 1040 samples (936 training samples per fold, 10 % of them for validation), Adam with
mini-batches of 64 and a one-cycle schedule (the demo's training setting), a few passes per fold. Both sides measure
the per-epoch train/validation/test MSE, as the workflow's jobs do; neither writes checkpoints. Each side runs
``--repeats`` times, alternating, and the best time counts (the machine may be shared).

    python benchmarks/bench_batched.py --threads 1 2
    python benchmarks/bench_batched.py --threads 1 --batch-size 1 --optimizer sgd --passes 1   # the paper's SGD

Times depend on the data only through their shape, so the data are random log2-like values (mean 8, SD 2).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch

from cic.model import Autoencoder
from cic.train import TrainConfig, fit, resolve_device

N_SAMPLES = 1040


def cpu_model_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_by_one(template_spec, x, train_rows, test_rows, config, seeds) -> None:
    for rows, test, seed in zip(train_rows, test_rows, seeds):
        fit(Autoencoder(x.shape[1], template_spec), x, config, train_rows=[rows], test_rows=[test], seeds=[seed])


def stacked(template_spec, x, train_rows, test_rows, config, seeds) -> None:
    fit(Autoencoder(x.shape[1], template_spec), x, config, train_rows=train_rows, test_rows=test_rows, seeds=seeds)


def timed(function, device, *args) -> float:
    synchronize(device)
    started = time.perf_counter()
    function(*args)
    synchronize(device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="L300,G,L30")
    parser.add_argument("--genes", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="0 = all training samples in one batch")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--passes", type=int, default=3, help="passes over each fold's training samples")
    parser.add_argument("--epochs", type=int, default=1, help="the passes are split into this many epochs")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU threads to compare")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--mixed-precision", default="off", choices=("off", "tf32", "bf16"))
    args = parser.parse_args()
    if args.passes % args.epochs:
        parser.error("--passes must be a multiple of --epochs")

    device = resolve_device(args.device)
    generator = np.random.default_rng(1)
    x = (8 + 2 * generator.standard_normal((N_SAMPLES, args.genes))).astype(np.float32)
    fold_of = np.arange(N_SAMPLES) % args.folds
    train_rows = [np.flatnonzero(fold_of != fold) for fold in range(args.folds)]
    test_rows = [np.flatnonzero(fold_of == fold) for fold in range(args.folds)]
    seeds = list(range(1, args.folds + 1))
    config = TrainConfig(epochs=args.epochs, iterations_per_epoch=args.passes // args.epochs,
                         batch_size=args.batch_size or None, optimizer=args.optimizer,
                         learning_rate=args.learning_rate, device=str(device), dtype=args.dtype,
                         schedule="one_cycle" if args.optimizer == "adam" else "constant",
                         mixed_precision=args.mixed_precision, progress=False)
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", CPU {cpu_model_name()}, dtype {args.dtype}, mixed precision {args.mixed_precision}")
    print(f"{args.folds} folds of {args.spec} on {args.genes} genes, {len(train_rows[0])} training samples per "
          f"fold, batch {args.batch_size or 'all'}, {args.optimizer}, {args.passes} passes per fold "
          f"({args.epochs} epochs, MSE measured after each); best of {args.repeats}")
    print(f"{'threads':>7} {'one by one s':>13} {'stacked s':>10} {'speed-up':>9} {'ms/update one':>14} "
          f"{'ms/update stacked':>18}")
    updates_per_fold = args.passes * -(-len(train_rows[0]) // (args.batch_size or len(train_rows[0])))
    for threads in args.threads:
        torch.set_num_threads(threads)
        # Warm-up (allocators, kernels), then alternate the two so that load from other jobs hits both alike.
        stacked(args.spec, x[:, :], train_rows, test_rows, TrainConfig(**(vars(config) | {"iterations_per_epoch": 1,
                                                                                         "epochs": 1})), seeds)
        sequential_times, stacked_times = [], []
        for _ in range(args.repeats):
            sequential_times.append(timed(one_by_one, device, args.spec, x, train_rows, test_rows, config, seeds))
            stacked_times.append(timed(stacked, device, args.spec, x, train_rows, test_rows, config, seeds))
        sequential, together = min(sequential_times), min(stacked_times)
        print(f"{threads:>7} {sequential:>13.2f} {together:>10.2f} {sequential / together:>8.2f}x "
              f"{1000 * sequential / (updates_per_fold * args.folds):>14.2f} "
              f"{1000 * together / updates_per_fold:>18.2f}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
