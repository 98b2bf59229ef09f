#!/usr/bin/python3
"""torch_peer.py -- row 7's PyTorch peer: the user formulas act fuses, written
as a PyTorch user would in eager mode, timed in-process on one thread.

  softclip(x; a = 1) = log((1 + exp(a x)) / (1 + exp(a (x - 1)))) / a
  chain          y = F.mish(2 (x + b))
  chain_composed y = z tanh(F.softplus(z)), z = 2 (x + b)

Each case is timed forward (inputs without grad) and forward+backward
(x and b require grad, y.backward(dy)). A figure is the median of at least
7 samples and 0.3 s of samples, after 3 warm-up runs (time.perf_counter).

Eager PyTorch allocates every intermediate. With glibc's defaults a tensor
of 64 MB is mmapped and page-faulted afresh on every op, and smaller ones
come and go as the heap top is trimmed, so times swing 2-4x with the heap's
history. By default the script keeps freed memory in the heap (mallopt: no
mmap, no trim), as the caching allocators PyTorch's tuning guide advises
(jemalloc, tcmalloc) do: the figures are then PyTorch's compute and memory
traffic. --glibc-default leaves malloc as it is.

Usage: /usr/bin/python3 torch_peer.py [--glibc-default] [N ...]
       (default sizes 262144 16777216)
Prints one JSON object per line:
  {"row": 7, "case": ..., "n": N, "pass": "fwd"|"fwdbwd", "seconds": ..., "torch": ...}
Prints nothing and exits 0 (message on stderr) when torch cannot be imported;
exits 1 when autograd disagrees with the analytic derivatives.
"""
import ctypes
import json
import os
import sys
import time

A = 1.0  # softclip's sharpness a
SCALE = 2.0  # the chain's scale s
WARMUP, MIN_SAMPLES, MIN_SECONDS = 3, 7, 0.3


def cpu_has_avx512():
    """AVX-512 F/BW/DQ/VL, what ATen's AVX512 kernels need."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return all(x in flags for x in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


# Debian's torch 1.13 picks its AVX2 kernels on Zen 4 although it ships AVX512
# ones, which run exp, log, tanh and mish 1.4-2x faster there; ask for them before
# the import (ATen reads the variable once). A value the user set wins.
if "ATEN_CPU_CAPABILITY" not in os.environ and cpu_has_avx512():
    os.environ["ATEN_CPU_CAPABILITY"] = "avx512"

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print("torch_peer.py: torch not available (%s); skipping row 7's PyTorch peer" % e,
          file=sys.stderr)
    sys.exit(0)


def keep_freed_memory():
    """mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, max): every
    allocation from the heap, and freed memory kept for reuse. False when
    this libc has no mallopt (not glibc) or refuses."""
    m_trim_threshold, m_mmap_max = -1, -4
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1


def softclip(x):
    return torch.log((1 + torch.exp(A * x)) / (1 + torch.exp(A * (x - 1)))) / A


def chain(x, b):
    return F.mish((x + b) * SCALE)


def chain_composed(x, b):
    z = (x + b) * SCALE
    return z * torch.tanh(F.softplus(z))


def softclip_grad(x):
    return torch.sigmoid(A * x) - torch.sigmoid(A * (x - 1))


def mish_grad(z):
    t = torch.tanh(F.softplus(z))
    return t + z * (1 - t * t) * torch.sigmoid(z)


def make_data(n, dtype):
    g = torch.Generator().manual_seed(7)
    x = torch.rand(n, generator=g, dtype=dtype) * 16 - 8
    b = torch.rand(n, generator=g, dtype=dtype) * 16 - 8
    dy = torch.rand(n, generator=g, dtype=dtype) * 2 - 1
    return x, b, dy


def autograd_dx(case, x, b, dy):
    """(y, dx, db) by autograd; db is None for softclip."""
    x = x.clone().requires_grad_()
    if case == "softclip":
        y = softclip(x)
        y.backward(dy)
        return y.detach(), x.grad, None
    b = b.clone().requires_grad_()
    y = (chain if case == "chain" else chain_composed)(x, b)
    y.backward(dy)
    return y.detach(), x.grad, b.grad


def max_err(got, want):
    """max |got - want| / max(1, |want|), in float64."""
    got, want = got.double(), want.double()
    return ((got - want).abs() / want.abs().clamp(min=1)).max().item()


def verify():
    """Autograd against the analytic derivatives, in float64 (tight) and in
    the float32 the timings use (against float64, loose). Returns a list of
    failures."""
    x64, b64, dy64 = make_data(4099, torch.float64)
    z64 = (x64 + b64) * SCALE
    want = {
        "softclip": (torch.log1p(torch.exp(x64)) - torch.log1p(torch.exp(x64 - 1)),
                     dy64 * softclip_grad(x64)),
        "chain": (z64 * torch.tanh(F.softplus(z64)), dy64 * SCALE * mish_grad(z64)),
    }
    want["chain_composed"] = want["chain"]
    failures = []
    for case, (y_want, dx_want) in want.items():
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 2e-5)):
            y, dx, db = autograd_dx(case, x64.to(dtype), b64.to(dtype), dy64.to(dtype))
            errs = {"y": max_err(y, y_want), "dx": max_err(dx, dx_want)}
            if db is not None:
                errs["db - dx"] = max_err(db, dx)
            for what, err in errs.items():
                if not err <= tol:
                    failures.append("%s %s %s: error %.3g > %.3g" % (case, dtype, what, err, tol))
    return failures


def median_seconds(run):
    for _ in range(WARMUP):
        run()
    samples = []
    start = time.perf_counter()
    while len(samples) < MIN_SAMPLES or time.perf_counter() - start < MIN_SECONDS:
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[len(samples) // 2]


def runners(case, x, b, dy):
    """(fwd, fwdbwd) closures for one case on float32 data."""
    xg = x.clone().requires_grad_()
    bg = b.clone().requires_grad_()

    if case == "softclip":
        def fwd():
            softclip(x)

        def fwdbwd():
            xg.grad = None
            softclip(xg).backward(dy)
    else:
        f = chain if case == "chain" else chain_composed

        def fwd():
            f(x, b)

        def fwdbwd():
            xg.grad = bg.grad = None
            f(xg, bg).backward(dy)
    return fwd, fwdbwd


def main(argv):
    glibc_default = "--glibc-default" in argv
    try:
        sizes = [int(a) for a in argv if a != "--glibc-default"] or [262144, 16777216]
    except ValueError:
        print("usage: torch_peer.py [--glibc-default] [N ...]", file=sys.stderr)
        return 2
    malloc = "glibc default malloc" if glibc_default else (
        "malloc keeps freed memory" if keep_freed_memory() else "malloc untuned (no mallopt)")
    torch.set_num_threads(1)
    failures = verify()
    if failures:
        print("torch_peer.py: autograd disagrees with the analytic derivative:\n  "
              + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("torch_peer.py: torch %s, %s kernels, 1 thread, %s" % (
        torch.__version__,
        torch.__config__.show().split("CPU capability usage: ")[-1].split("\n")[0], malloc),
        file=sys.stderr)
    for n in sizes:
        x, b, dy = make_data(n, torch.float32)
        for case in ("softclip", "chain", "chain_composed"):
            fwd, fwdbwd = runners(case, x, b, dy)
            for name, run in (("fwd", fwd), ("fwdbwd", fwdbwd)):
                print(json.dumps({"row": 7, "case": case, "n": n, "pass": name,
                                  "seconds": median_seconds(run), "torch": torch.__version__}),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
