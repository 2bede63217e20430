"""Benchmark the training of the selected network (``L2000,G,L30``), and the convergence of demo-scale settings.

Speed (default): times training steps (gather a mini-batch on the device, forward, MSE, backward, SGD update: the
inner step of :func:`cic.train.fit`) at demo scale (2000 genes) and paper scale (20184 genes), each with a batch of
780 samples (the paper's whole 75 % training split), after warm-up steps. It prints samples/s, ms/step and the
achieved GFLOP/s beside the dense matmul GFLOP/s of this machine measured in the same process (same dtype, the
shape of the big layer's forward product) and their ratio ("of peak"), plus peak memory. The whole 1040 x genes
matrix stays resident on the device throughout, as in :func:`cic.train.fit`. FLOPs are counted as 6 * (Linear weights) * batch per
step: 2 per multiply-add forward and 4 backward (gradients of inputs and of weights), the usual convention.

    python benchmarks/bench_training.py --device cpu --steps 3

Convergence (``--convergence``): trains ``L300,G,L30`` on a simulated compendium (1040 samples, the 1000 most
variable of 2000 simulated genes, log2 and quantile normalised; 780 train / 260 test) with a few settings, each
for a wall-clock budget, and prints the test MSE curve against time, beside PCA's 30-component test MSE.

    python benchmarks/bench_training.py --convergence --budget 90
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import resource
import time

import numpy as np
import torch

from cic.model import Autoencoder, initialise_weights
from cic.train import TrainConfig, fit, linear_weights, make_optimizer, resolve_device, training_loss

SCALES = {"demo": 2000, "paper": 20184}
N_SAMPLES = 1040
TRAIN_SAMPLES = 780

# Settings compared by --convergence: the paper's per-sample SGD, SGD on mini-batches (plain, diverging, with
# momentum) and Adam; an iteration is one pass over the 780 training samples.
CONVERGENCE_SETTINGS = {
    "paper: SGD, batch 1, lr 0.002": dict(batch_size=1, learning_rate=0.002, iterations_per_epoch=5),
    "SGD, batch 32, lr 0.01": dict(batch_size=32, learning_rate=0.01, iterations_per_epoch=20),
    "SGD, batch 32, lr 0.003": dict(batch_size=32, learning_rate=0.003, iterations_per_epoch=20),
    "SGD + momentum 0.9, batch 16, lr 0.002": dict(batch_size=16, learning_rate=0.002, momentum=0.9,
                                                   iterations_per_epoch=20),
    "Adam, batch 32, lr 0.001": dict(batch_size=32, learning_rate=0.001, optimizer="adam", iterations_per_epoch=20),
    "Adam, batch 32, lr 0.0005": dict(batch_size=32, learning_rate=0.0005, optimizer="adam",
                                      iterations_per_epoch=20),
}


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


def time_training_steps(n_genes: int, spec: str, batch_size: int, device: torch.device, dtype: str, warmup: int,
                        steps: int) -> dict:
    model = Autoencoder(n_genes, spec)
    initialise_weights(model, seed=1)
    model.to(device)
    config = TrainConfig(batch_size=batch_size, device=str(device))
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(1)
    # log2-scale values around 8, as the prepared data; on the device once, as in fit().
    data = (8 + 2 * torch.randn(N_SAMPLES, n_genes, generator=generator)).to(device)
    train_rows = torch.randperm(N_SAMPLES, generator=generator)[:TRAIN_SAMPLES].to(device)

    def step():
        batch = data[train_rows[torch.randperm(TRAIN_SAMPLES, device=device)[:batch_size]]]
        with precision_context(device, dtype):
            loss = training_loss(model, batch, batch, None, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    step_seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        synchronize(device)
        step_seconds.append(time.perf_counter() - started)
    weights = sum(weight.numel() for weight in linear_weights(model))
    seconds = float(np.mean(step_seconds))
    return {
        "weights": weights,
        "ms_per_step": 1000 * seconds,
        "best_ms_per_step": 1000 * min(step_seconds),
        "samples_per_s": batch_size / seconds,
        "gflops": 6 * weights * batch_size / seconds / 1e9,
        "matmul_gflops": matmul_gflops(batch_size, n_genes, model.encoder[0].out_features, device, dtype),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cuda_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }


def run_speed(args) -> None:
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", CPU {cpu_model_name()}, {torch.get_num_threads()} threads, dtype {args.dtype}")
    print(f"spec {args.spec}, batch {args.batch_size} samples, {args.warmup} warm-up + {args.steps} timed steps; "
          f"FLOPs = 6 * Linear weights * batch per step")
    header = (f"{'scale':>6} {'genes':>6} {'weights':>11} {'ms/step':>9} {'best ms':>9} {'samples/s':>10} "
              f"{'GFLOP/s':>8} {'matmul GFLOP/s':>15} {'of peak':>8} {'peak RSS MiB':>13} {'CUDA peak MiB':>14}")
    print(header)
    for scale in args.scale:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        result = time_training_steps(SCALES[scale], args.spec, args.batch_size, device, args.dtype, args.warmup,
                                     args.steps)
        cuda_peak = f"{result['cuda_peak_mib']:.0f}" if result["cuda_peak_mib"] is not None else "-"
        print(f"{scale:>6} {SCALES[scale]:>6} {result['weights']:>11,} {result['ms_per_step']:>9.1f} "
              f"{result['best_ms_per_step']:>9.1f} {result['samples_per_s']:>10.0f} {result['gflops']:>8.1f} "
              f"{result['matmul_gflops']:>15.1f} {result['gflops'] / result['matmul_gflops']:>8.0%} "
              f"{result['peak_rss_mib']:>13.0f} {cuda_peak:>14}", flush=True)


def simulated_demo_data(n_simulated_genes: int = 2000, n_genes: int = 1000, seed: int = 1):
    """The 1000 most variable genes of a simulated compendium, log2(x + 1) and quantile normalised."""
    from cic.prepare import quantile_normalize
    from cic.simulate import SimulationConfig, simulate_compendium

    compendium = simulate_compendium(SimulationConfig(n_genes=n_simulated_genes, seed=seed))
    expression = quantile_normalize(np.log2(compendium.intensities.to_numpy().T.astype(np.float64) + 1))
    most_variable = np.sort(np.argsort(expression.var(axis=0))[::-1][:n_genes])
    expression = expression[:, most_variable].astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(expression))
    return expression[order[:TRAIN_SAMPLES]], expression[order[TRAIN_SAMPLES:]]


class BudgetSpent(Exception):
    pass


def run_convergence(args) -> None:
    from sklearn.decomposition import PCA

    train_x, test_x = simulated_demo_data()
    pca = PCA(30).fit(train_x)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2))
    mean_mse = float(np.mean((test_x - train_x.mean(axis=0)) ** 2))
    print(f"data: train {train_x.shape}, test {test_x.shape}, values {train_x.min():.1f}..{train_x.max():.1f}; "
          f"test MSE of the training mean {mean_mse:.4f}, of PCA with 30 components {pca_mse:.4f}")
    print(f"spec L300,G,L30, {args.budget:g} s per setting, CPU {cpu_model_name()}, {torch.get_num_threads()} threads")
    for name, settings in CONVERGENCE_SETTINGS.items():
        config = TrainConfig(epochs=100_000, device=args.device, progress=False, **settings)
        curve = []
        started = time.perf_counter()

        def record(row):
            elapsed = time.perf_counter() - started
            curve.append((elapsed, row["epoch"] * config.iterations_per_epoch, row["test_mse"]))
            if elapsed > args.budget or not np.isfinite(row["test_mse"]):
                raise BudgetSpent

        try:
            fit(Autoencoder(train_x.shape[1], "L300,G,L30"), train_x, config, test_x=test_x, on_epoch_end=record)
        except BudgetSpent:
            pass
        except FloatingPointError:
            curve.append((time.perf_counter() - started, None, float("nan")))
        # The first epoch, the first epoch past each of these times, and the last one.
        marks = [curve[0]] + [next((point for point in curve if point[0] >= t), curve[-1])
                              for t in (10, 20, 30, 45, 60, 90, 120) if t < args.budget] + [curve[-1]]
        marks = sorted(set(marks), key=marks.index)
        shown = ", ".join(f"{seconds:.0f}s/{passes or 'diverged'}" + (f"it {mse:.4f}" if passes else "")
                          for seconds, passes, mse in marks)
        print(f"{name:<40} {shown}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per scale (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "tf32"), default="float32",
                        help="float32; bfloat16 = float32 weights under autocast; tf32 = TF32 matmuls (GPU)")
    parser.add_argument("--scale", nargs="+", choices=tuple(SCALES), default=list(SCALES))
    parser.add_argument("--spec", default="L2000,G,L30")
    parser.add_argument("--batch-size", type=int, default=TRAIN_SAMPLES)
    parser.add_argument("--convergence", action="store_true", help="run the demo-scale convergence comparison")
    parser.add_argument("--budget", type=float, default=90, help="--convergence: seconds per setting")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run_convergence(args) if args.convergence else run_speed(args)


if __name__ == "__main__":
    main()
