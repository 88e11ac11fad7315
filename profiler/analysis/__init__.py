"""The verdict: pure functions from measured `Results` to what the user should do.

Nothing here runs a workload, touches a file or imports pandas; every function takes
numbers and returns the typed sections of the results file, so all of it is tested with
hand-made trials. `analyse` fills the four sections (`profiler.analysis.verdict`).
"""

from profiler.analysis.classify import classify
from profiler.analysis.decompose import decompose
from profiler.analysis.predict import predict
from profiler.analysis.recommend import recommend
from profiler.analysis.scaling import fit_scaling
from profiler.analysis.verdict import analyse

__all__ = ["analyse", "classify", "decompose", "fit_scaling", "predict", "recommend"]
