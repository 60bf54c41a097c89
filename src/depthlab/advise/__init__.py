"""The depth advisor: which depth to use for this data and latency budget, with an interval, from a fraction
of the compute of a grid (docs/advise.md). ``depthlab.advise(data, model, ...)`` runs it."""

import sys
import types

from depthlab.advise.advice import Advice, Candidate
from depthlab.advise.advisor import Advisor, advise
from depthlab.advise.config import AdviseConfig

__all__ = ["Advice", "AdviseConfig", "Advisor", "Candidate", "advise"]


class _CallablePackage(types.ModuleType):
    """``depthlab.advise`` is both this package and the function: once the package is imported, the parent's
    attribute ``depthlab.advise`` is the module, so the module itself answers the call."""

    def __call__(self, *args, **kwargs) -> Advice:
        return advise(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
