"""timm's own ``reparameterize_model`` fuses a depthlab ParNet exactly (one protocol: ``reparameterize()``).

depthlab does not depend on timm; this test runs where timm can be imported (CI installs it with
``pip install --no-deps timm``) and skips otherwise. timm imports torchvision at module level, and torchvision
does not import beside every torch build (not beside this CPU one), so where torchvision is missing the child
process stands in an empty torchvision: the walk under test (``timm.models._manipulate``) uses none of it.
It runs in a child process so that neither timm nor the stand-in leaks into the other tests.
"""

import subprocess
import sys
import textwrap

import pytest

NO_TIMM = 77  # the child's exit code when timm cannot be imported at all

CHILD = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, importlib.util, sys, types
    import torch
    from torch import nn

    class _Anything(type):  # any attribute of the stand-in is a class, and so is any attribute of that
        def __getattr__(cls, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _Anything(attr, (nn.Module,), {})

    class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "torchvision":
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            module = types.ModuleType(spec.name)
            module.__path__ = []
            module.__getattr__ = lambda attr: _Anything.__getattr__(_Anything, attr)
            return module

        def exec_module(self, module):
            pass

    if importlib.util.find_spec("timm") is None:
        sys.exit(%(no_timm)d)
    try:
        import torchvision  # noqa: F401
    except Exception:
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        sys.meta_path.insert(0, _StandIn())
    try:
        from timm.utils import reparameterize_model as timm_reparameterize
    except ImportError as err:
        print(err)
        sys.exit(%(no_timm)d)

    from depthlab.models import create_model
    from depthlab.models.reparam import randomize_batchnorm, reparameterize_model

    model = create_model("parnet_lite", width=8, num_classes=5)
    randomize_batchnorm(model, torch.Generator().manual_seed(0))
    model.eval()
    ours, theirs = reparameterize_model(model), timm_reparameterize(model)
    x = torch.randn(3, *model.config.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, by_timm = model(x), theirs(x)
    count = lambda m: sum(p.numel() for p in m.parameters())
    same = ours.state_dict().keys() == theirs.state_dict().keys() and all(
        torch.equal(ours.state_dict()[k], theirs.state_dict()[k]) for k in ours.state_dict()
    )
    error = ((expected - by_timm).abs().max() / expected.abs().max()).item()
    print(not model.is_fused, theirs.is_fused, count(model), count(theirs), count(ours), same, error)
    """
) % {"no_timm": NO_TIMM}


@pytest.mark.extra("timm")
def test_timm_reparameterize_model_fuses_parnet_like_ours():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    if done.returncode == NO_TIMM:
        pytest.skip(f"timm cannot be imported here {done.stdout.strip()}")
    assert done.returncode == 0, done.stderr[-2000:]
    original_unfused, fused, before, after, ours, same, error = done.stdout.split()[-7:]
    assert original_unfused == "True" and fused == "True"  # timm worked on a copy, and fused every block
    assert int(after) == int(ours) < int(before)  # the branches are gone: fewer parameters, as our fusion
    assert same == "True"  # the same fused weights as depthlab's own reparameterize_model
    assert float(error) < 1e-5  # and the same function as the train form
