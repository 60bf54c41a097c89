"""See depth at work: gradient/activation flow per layer, the depth meter, cost, probes, lesions, verdicts."""

from depthlab.diagnose.depth import DepthReport, longest_path_depth
from depthlab.diagnose.measure import count_flops, count_params, measure
from depthlab.diagnose.watch import Watch, watch

__all__ = ["DepthReport", "Watch", "count_flops", "count_params", "longest_path_depth", "measure", "watch"]
