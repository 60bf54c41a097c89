"""The CUDA fast paths, each against a plain reference on the same GPU (all skip without CUDA).

``fit``'s compiled path (``torch.compile(mode="reduce-overhead")``: CUDA graphs) trains to the eager path's
weights and really runs as graphs; bf16 autocast, channels_last and the on-device crop + flip learn; fp16 with
its loss scaler trains; a stream-parallel ParNet captured in one CUDA graph replays the sequential model's
output.
"""

from __future__ import annotations

import pytest
import torch

from depthlab.data.dataset import Dataset
from depthlab.models import create_model
from depthlab.models.parallel import ParallelParNet
from depthlab.models.reparam import randomize_batchnorm, reparameterize_model
from depthlab.train import fit

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def colour_images(n: int = 512) -> Dataset:
    """Images whose class is their brightest channel (a crop or flip keeps it; a small CNN learns it)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 16, 16, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    x[torch.arange(n), y] += 0.5
    return Dataset("colours", x, y, x[:128], y[:128], x[:128], y[:128], num_classes=3)


def small_resnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("resnet_cifar", depth=8, width=8, input_shape=(3, 16, 16), num_classes=3)


COMMON = dict(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=64, device="cuda", quiet=True, seed=1)


def test_compiled_cuda_graph_training_matches_eager_and_runs_as_graphs():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    eager, graphed = small_resnet(), small_resnet()
    fit(eager, colour_images(), steps=16, **COMMON)
    history = fit(graphed, colour_images(), steps=16, compile=True, compile_mode="reduce-overhead", **COMMON)
    assert history.status == "ok"
    assert counters["inductor"]["cudagraph_skips"] == 0  # graphs ran; none fell back to eager
    for (name, a), b in zip(eager.state_dict().items(), graphed.state_dict().values(), strict=True):
        if a.is_floating_point():  # TF32 both ways, different kernels: close, not equal
            torch.testing.assert_close(b, a, rtol=2e-2, atol=2e-2, msg=name)
    assert not torch.equal(
        graphed.state_dict()["stem.0.weight"], small_resnet().state_dict()["stem.0.weight"]
    )


def test_bf16_channels_last_on_device_augmentation_learns():
    history = fit(
        small_resnet(),
        colour_images(),
        epochs=6,
        amp="bf16",
        channels_last=True,
        augment="crop_flip",
        **COMMON,
    )
    assert history.status == "ok" and not history.notes  # nothing was ignored on CUDA
    assert history.final["test_acc"] > 0.9


def test_fp16_with_loss_scaling_trains():
    history = fit(small_resnet(), colour_images(), epochs=6, amp="fp16", **COMMON)
    assert history.status == "ok"
    assert history.final["test_acc"] > 0.9


@pytest.mark.parametrize("fused", [False, True])
def test_stream_parallel_parnet_captured_in_a_cuda_graph_replays_the_sequential_output(fused):
    torch.manual_seed(0)
    model = create_model("parnet_m", width=8, num_classes=7, input_shape=(3, 64, 64))
    randomize_batchnorm(model)
    model = model.eval().cuda()
    model = reparameterize_model(model) if fused else model
    parallel = ParallelParNet(model, mode="cuda_streams")
    x = torch.randn(4, 3, 64, 64, device="cuda")
    with torch.inference_mode():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                parallel(x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = parallel(x)
        x.copy_(torch.randn_like(x))  # a replay reads the captured input's memory: new values, same address
        graph.replay()
        torch.testing.assert_close(out, model(x), rtol=1e-4, atol=1e-4)
