"""Benchmark the training step of the selected network (``L2000,G,L30``) at demo and paper scale.

Times training steps exactly as :func:`cic.train.fit` takes them (gather each network's mini-batch from the resident
matrix, forward, loss, backward, the optimizer's update: fused Adam, or SGD) for ``--networks`` k networks stacked
(:class:`cic.model.NetworkStack`; k = 1 is one network), at demo scale (2000 genes) and paper scale (20184 genes),
after warm-up steps. It prints ms/step, samples/s and the achieved GFLOP/s beside the dense matmul GFLOP/s of this
machine measured in the same process (same dtype, the shape of the big layer's forward product) and their ratio
("of peak"), plus peak memory. FLOPs are counted as 6 * (Linear weights) * batch * k per step: 2 per multiply-add
forward and 4 backward (gradients of inputs and of weights), the usual convention (the first layer's input gradient
is not computed, so the real count is about 5/6 of it).

    python benchmarks/bench_training.py --device cpu --steps 3                      # batch 780, one network
    python benchmarks/bench_training.py --scale paper --batch-size 64 --networks 10 # the paper config's CV step
    python benchmarks/bench_training.py --scale paper --batch-size 1 --optimizer sgd --steps 20   # the paper's SGD
    python benchmarks/bench_training.py --device cuda --dtype bfloat16 --networks 10 --batch-size 64   # on a GPU

The convergence of schedules (what a step buys) is benchmarks/bench_schedules.py.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import time

import numpy as np
import torch

from cic.model import Autoencoder, NetworkStack, initialise_weights
from cic.train import TrainConfig, linear_weights, make_optimizer, resolve_device, training_loss

SCALES = {"demo": 2000, "paper": 20184}
N_SAMPLES = 1040
TRAIN_SAMPLES = 780


def cpu_model_name() -> str:
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def precision_context(device: torch.device, dtype: str):
    """bfloat16 runs the float32 model under autocast; tf32 lets float32 matmuls use TF32 tensor cores."""
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = dtype == "tf32"
    if dtype == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def matmul_gflops(rows: int, inner: int, columns: int, device: torch.device, dtype: str,
                  seconds: float = 2.0) -> float:
    """Dense matmul throughput of this machine for a (rows x inner) @ (inner x columns) product (best of runs
    of at least ``seconds`` / 4 each, after warm-up)."""
    tensor_dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    left = torch.randn(rows, inner, device=device, dtype=tensor_dtype)
    right = torch.randn(inner, columns, device=device, dtype=tensor_dtype)
    for _ in range(3):  # warm-up
        torch.matmul(left, right)
    best = 0.0
    for _ in range(4):
        synchronize(device)
        started, repeats = time.perf_counter(), 0
        while time.perf_counter() - started < seconds / 4:
            torch.matmul(left, right)
            repeats += 1
            synchronize(device)
        best = max(best, 2 * rows * inner * columns * repeats / (time.perf_counter() - started) / 1e9)
    return best


def time_training_steps(n_genes: int, spec: str, batch_size: int, networks: int, optimizer: str, device: torch.device,
                        dtype: str, warmup: int, steps: int) -> dict:
    template = Autoencoder(n_genes, spec)
    stack = NetworkStack(template, networks)
    for index in range(networks):
        initialise_weights(template, seed=index + 1)
        stack.set_network(index, template)
    stack.to(device)
    config = TrainConfig(batch_size=batch_size, optimizer=optimizer, device=str(device))
    optimizer = make_optimizer(stack, config)
    generator = torch.Generator().manual_seed(1)
    # log2-scale values around 8, as the prepared data; on the device once, as in fit().
    data = (8 + 2 * torch.randn(N_SAMPLES, n_genes, generator=generator)).to(device)
    train_rows = torch.randperm(N_SAMPLES, generator=generator)[:TRAIN_SAMPLES].to(device)
    counts = torch.full((networks,), batch_size, device=device)

    def step():
        batch = data[train_rows[torch.randint(TRAIN_SAMPLES, (networks, batch_size), device=device)]]
        with precision_context(device, dtype):
            loss = training_loss(stack, batch, batch, None, counts, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    stack.train()
    for _ in range(warmup):
        step()
    synchronize(device)
    step_seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        synchronize(device)
        step_seconds.append(time.perf_counter() - started)
    weights = sum(weight[0].numel() for weight in linear_weights(stack))
    seconds = float(np.mean(step_seconds))
    return {
        "weights": weights,
        "ms_per_step": 1000 * seconds,
        "best_ms_per_step": 1000 * min(step_seconds),
        "samples_per_s": networks * batch_size / seconds,
        "gflops": 6 * weights * batch_size * networks / seconds / 1e9,
        "matmul_gflops": matmul_gflops(batch_size * networks, n_genes, template.encoder[0].out_features, device,
                                       dtype),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cuda_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }


def run_speed(args) -> None:
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", CPU {cpu_model_name()}, {torch.get_num_threads()} threads, dtype {args.dtype}")
    print(f"spec {args.spec}, {args.networks} network(s) x batch {args.batch_size} samples, {args.optimizer}, "
          f"{args.warmup} warm-up + {args.steps} timed steps; FLOPs = 6 * Linear weights * batch * networks per step")
    header = (f"{'scale':>6} {'genes':>6} {'weights':>11} {'ms/step':>9} {'best ms':>9} {'samples/s':>10} "
              f"{'GFLOP/s':>8} {'matmul GFLOP/s':>15} {'of peak':>8} {'peak RSS MiB':>13} {'CUDA peak MiB':>14}")
    print(header)
    for scale in args.scale:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        result = time_training_steps(SCALES[scale], args.spec, args.batch_size, args.networks, args.optimizer, device,
                                     args.dtype, args.warmup, args.steps)
        cuda_peak = f"{result['cuda_peak_mib']:.0f}" if result["cuda_peak_mib"] is not None else "-"
        print(f"{scale:>6} {SCALES[scale]:>6} {result['weights']:>11,} {result['ms_per_step']:>9.1f} "
              f"{result['best_ms_per_step']:>9.1f} {result['samples_per_s']:>10.0f} {result['gflops']:>8.1f} "
              f"{result['matmul_gflops']:>15.1f} {result['gflops'] / result['matmul_gflops']:>8.0%} "
              f"{result['peak_rss_mib']:>13.0f} {cuda_peak:>14}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per scale (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "tf32"), default="float32",
                        help="float32; bfloat16 = float32 weights under autocast; tf32 = TF32 matmuls (GPU)")
    parser.add_argument("--scale", nargs="+", choices=tuple(SCALES), default=list(SCALES))
    parser.add_argument("--spec", default="L2000,G,L30")
    parser.add_argument("--batch-size", type=int, default=TRAIN_SAMPLES, help="samples per network and step")
    parser.add_argument("--networks", type=int, default=1, help="networks stacked (e.g. 10 CV folds)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run_speed(args)


if __name__ == "__main__":
    main()
