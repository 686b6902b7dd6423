"""The course's benchmarks (run each file by hand; see docs/benchmarks.md) and the reference runners the
reference tests share (``benchmarks.references``).

A regular package on purpose: Opacus's wheel installs a top-level package also called ``benchmarks``,
and a plain folder would lose to it on import; the repository root comes first on the tests' path.
"""
