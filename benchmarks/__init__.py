"""Commands that print figures (speed, accuracy, stillness); not tests."""
import occface_core.blas_threads  # noqa: F401  (before anything loads numpy: benchmarks measure the app's CPU)
