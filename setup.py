"""What pyproject.toml cannot say: the repository's `scenarios/` folder is installed as
`profiler.scenarios`, so that a wheel adds no top-level package of that generic name.

Every other package is found as usual; the metadata, the extras and the package data
are in pyproject.toml. `concur run scenarios.db_batch:story` still works wherever concur
is installed: a `scenarios.` target falls back to the bundled examples
(`profiler.workload.BUNDLED`).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["profiler", "profiler.*"]), "profiler.scenarios"],
    package_dir={"profiler.scenarios": "scenarios"},
)
