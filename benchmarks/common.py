"""Timing helpers shared by the benchmarks: ember and torch timed in one process, interleaved,
on the same data; each figure is the best of several repeats (least disturbed by the OS).

A benchmark script calls ``threads_from_argv()`` before importing NumPy and torch, then
``parse_args`` for the options every script shares and ``run_sections`` for ``--only``."""
import argparse
import os
import sys
import time


def threads_from_argv():
    """``--threads N`` must reach OpenBLAS and OpenMP before NumPy and torch are imported."""
    for i, arg in enumerate(sys.argv[:-1]):
        if arg == '--threads':
            for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
                os.environ[var] = sys.argv[i + 1]


def parse_args(doc, sections):
    """--device, --quick, --only (one of ``sections``) and --threads (applied to torch and
    ember here, to BLAS by ``threads_from_argv``)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--quick', action='store_true')
    p.add_argument('--only', default=None, choices=sections)
    p.add_argument('--threads', type=int, default=None,
                   help='threads for BLAS, torch and ember (default: all cores)')
    args = p.parse_args()
    if args.threads:
        import ember
        import torch
        torch.set_num_threads(args.threads)
        ember.set_num_threads(args.threads)
    return args


def run_sections(sections, only):
    """Run every section (name -> callable), or only the one named ``only``."""
    for name, run in sections.items():
        if only is None or only == name:
            run()


def bench(fn, min_time=0.2, repeats=5):
    """Best time per call of ``fn()`` in seconds (calls batched to last ~min_time/repeats)."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > min_time / repeats or n > 1_000_000:
            break
        n *= 4
    best = dt / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def compare(ember_fn, torch_fn, min_time=0.2, repeats=5, sync=None):
    """(ember seconds, torch seconds), measured alternately to share the machine's noise."""
    e_best = t_best = float('inf')
    for _ in range(2):
        e_best = min(e_best, bench(ember_fn, min_time / 2, repeats))
        t_best = min(t_best, bench(torch_fn, min_time / 2, repeats))
    return e_best, t_best


def fmt_time(s):
    if s < 1e-3:
        return f'{s * 1e6:8.1f} us'
    if s < 1:
        return f'{s * 1e3:8.2f} ms'
    return f'{s:8.2f} s '


def print_row(name, e, t, width=44):
    ratio = e / t
    print(f'{name:<{width}} {fmt_time(e)} {fmt_time(t)}   {ratio:6.2f}x', flush=True)


def print_header(title, width=44):
    print(f'\n{title}')
    print(f'{"":<{width}} {"ember":>11} {"torch":>11}   {"ember/torch":>6}')
