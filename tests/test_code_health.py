"""What the library leaves alone: importing every depthlab module (and drawing a plot) keeps the user's
matplotlib backend; a notebook that imports depthlab keeps its inline figures."""

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import importlib, pkgutil
    import matplotlib
    matplotlib.use("pdf")  # stands in for a notebook's backend: any backend that is not Agg
    import depthlab
    for info in pkgutil.walk_packages(depthlab.__path__, "depthlab."):
        # running the CLI is not importing it; SKIP: the modules of extras not installed here
        if not info.name.endswith("__main__") and info.name not in SKIP:
            importlib.import_module(info.name)
    after_import = matplotlib.get_backend()
    from depthlab.diagnose import plots
    rows = [{"step": 0, "layer": i, "depth": i + 1, "grad_norm": 10.0**-i} for i in range(4)]
    written = plots.gradient_flow(rows, OUT)
    print(after_import, matplotlib.get_backend(), written.stat().st_size > 0)
    """
)


# The modules that need an optional extra to import; every other module imports on a bare machine.
NEEDS_EXTRA = {"depthlab.diagnose.lightning": "lightning"}


def _import_everything_but(skip, out):
    child = f"OUT = {str(out)!r}\nSKIP = {set(skip)!r}\n" + CHILD
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


@pytest.mark.slow  # imports every module
def test_importing_every_module_and_plotting_keeps_the_users_backend(tmp_path):
    assert _import_everything_but(NEEDS_EXTRA, tmp_path / "flow.png") == ["pdf", "pdf", "True"]


@pytest.mark.slow
@pytest.mark.extra("lightning")
def test_the_modules_of_the_extras_keep_the_users_backend_too(tmp_path):
    assert _import_everything_but((), tmp_path / "flow.png") == ["pdf", "pdf", "True"]
