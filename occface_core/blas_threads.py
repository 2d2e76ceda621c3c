"""One BLAS thread: import this before numpy, at the top of an entry point (main.py, benchmarks).

The per-frame numpy.linalg calls are tiny (the head-pose solve); on them OpenBLAS wakes its worker
threads, which then spin (sched_yield) between calls: a camera-rate run used 112 % of a core with them
and 16 % without, and capture-to-sent fell from 13.0 to 8.4 ms. The app runs one model thread anyway.
A value the user set in the environment wins.
"""
import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
