"""Why a configuration is slow: py-spy and yappi passes over one model × concurrency
(`job`), the stacks they record (`pyspy`, `stacks`, `yappi`), the files they leave
(`files`) and the findings in plain words (`explain`). A side feature: nothing in the
measurement core imports it."""

from profiler.attribution.explain import choose_configurations, explain
from profiler.attribution.job import PASSES, attribute, gil_support, native_supported

__all__ = ["PASSES", "attribute", "choose_configurations", "explain", "gil_support",
           "native_supported"]
