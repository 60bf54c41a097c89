"""See depth at work: gradient/activation flow per layer, the depth meter, cost, probes, lesions, verdicts."""

from depthlab.diagnose.cost import count_flops, count_params, measure
from depthlab.diagnose.depth import DepthReport, longest_path_depth
from depthlab.diagnose.doctor import DoctorReport, Verdict, diagnose, doctor, verdicts
from depthlab.diagnose.feature_probes import layer_features, lesion, linear_probes
from depthlab.diagnose.watch import Watch, watch

__all__ = [
    "DepthReport",
    "DoctorReport",
    "Verdict",
    "Watch",
    "count_flops",
    "count_params",
    "diagnose",
    "doctor",
    "layer_features",
    "lesion",
    "linear_probes",
    "longest_path_depth",
    "measure",
    "verdicts",
    "watch",
]
