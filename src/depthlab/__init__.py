"""depthlab: a lab about the depth of neural networks.

Build networks whose depth is the main dial, train them fast, see what depth does inside them, run the
studies that answer "should I add layers, and why does my deep net not train?", and build ParNet, the
non-deep network.
"""

from depthlab.errors import DepthlabError

__version__ = "0.1.0"
__all__ = ["DepthlabError", "__version__", "advise"]


def __getattr__(name: str):
    # ``depthlab.advise(...)`` without importing torch and scipy on ``import depthlab``: the package is
    # imported on first use, and it is callable (see depthlab/advise/__init__.py).
    if name == "advise":
        import importlib

        return importlib.import_module("depthlab.advise")
    raise AttributeError(f"module 'depthlab' has no attribute {name!r}")
