"""A restricted unpickler for data files (CIFAR's python batches): numpy arrays and plain containers only.

Pickle runs whatever callables a file names, so an ordinary ``pickle.load`` on a downloaded file is arbitrary
code execution. This unpickler resolves only the few globals that pickled numpy arrays need and refuses
everything else with a DepthlabError naming the file and the refused global.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from depthlab.errors import DepthlabError

try:  # numpy >= 2 moved the modules; pickles name either path
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer

_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _NUMPY_MODULES},
    **{(module, "scalar"): scalar for module in _NUMPY_MODULES},
    # pickle protocol 5 rebuilds arrays from a buffer, a dtype and a shape (no code of the file's choosing)
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 writes bytes under pickle protocol 2
}


class _ArrayUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BufferedIOBase, source: str):
        # CIFAR was pickled by Python 2; latin1 maps its byte strings 1:1 (what numpy needs to rebuild arrays)
        super().__init__(stream, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise DepthlabError(
                f"{self.source}: refusing to unpickle {module}.{name} (only numpy arrays and "
                "plain containers are allowed in a data file)"
            )
        return _ALLOWED[(module, name)]


def safe_unpickle(payload: bytes, source: str) -> Any:
    """Unpickle ``payload`` (from file ``source``) allowing only numpy arrays and builtin containers."""
    try:
        return _ArrayUnpickler(io.BytesIO(payload), source).load()
    except DepthlabError:
        raise
    except Exception as err:  # truncated or corrupt: EOFError, UnpicklingError, ValueError, ...
        raise DepthlabError(f"{source}: not a readable pickle ({type(err).__name__}: {err})") from None
