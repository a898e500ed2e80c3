"""`python -m evals.bench`: the benchmark table (see `evals.bench.runner`)."""

from evals.bench.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
