"""`python -m profiler` is `concur`."""

from profiler.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
