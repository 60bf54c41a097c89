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
        if not info.name.endswith("__main__"):  # running the CLI is not importing it
            importlib.import_module(info.name)
    after_import = matplotlib.get_backend()
    from depthlab.diagnose import plots
    rows = [{"step": 0, "layer": i, "depth": i + 1, "grad_norm": 10.0**-i} for i in range(4)]
    written = plots.gradient_flow(rows, OUT)
    print(after_import, matplotlib.get_backend(), written.stat().st_size > 0)
    """
)


@pytest.mark.slow  # imports every module, Ray and Lightning included
def test_importing_every_module_and_plotting_keeps_the_users_backend(tmp_path):
    child = f"OUT = {str(tmp_path / 'flow.png')!r}\n" + CHILD
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["pdf", "pdf", "True"]
