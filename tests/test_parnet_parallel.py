"""Stream-parallel ParNet inference gives the sequential model's outputs (CUDA paths need a GPU)."""

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.models.parallel import ParallelParNet
from depthlab.models.reparam import randomize_batchnorm, reparameterize_model


def small_parnet(device="cpu"):
    model = create_model("parnet_m", width=8, num_classes=7, input_shape=(3, 64, 64))
    randomize_batchnorm(model)
    return model.eval().to(device)


@pytest.mark.parametrize("fused", [False, True])
def test_threads_equal_sequential_on_cpu(fused):
    model = small_parnet()
    model = reparameterize_model(model) if fused else model
    parallel = ParallelParNet(model, mode="threads")
    x = torch.randn(3, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
        for _ in range(3):  # repeated calls reuse the pool
            torch.testing.assert_close(parallel(x), expected, rtol=0, atol=0)
    parallel.close()


def _gradients(model, output):
    model.zero_grad(set_to_none=True)
    output.sum().backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_threads_keep_grad_mode_and_give_the_sequential_outputs_and_gradients():
    model = small_parnet()
    parallel = ParallelParNet(model, mode="auto")
    assert parallel.mode == "threads"
    x = torch.randn(2, 3, 64, 64)
    out = parallel(x)
    threaded = _gradients(model, out)
    expected = model(x)
    sequential = _gradients(model, expected)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert threaded["streams.0.0.conv3x3.conv.weight"] is not None  # stream 1 ran on a worker thread
    assert threaded.keys() == sequential.keys()
    for name, grad in sequential.items():
        torch.testing.assert_close(threaded[name], grad, msg=lambda m, name=name: f"{name}: {m}")
    parallel.close()


def test_bad_modes():
    with pytest.raises(DepthlabError, match="parallel mode 'gpu'"):
        ParallelParNet(small_parnet(), mode="gpu")
    with pytest.raises(DepthlabError, match="CUDA"):
        ParallelParNet(small_parnet(), mode="cuda_streams")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_streams_equal_sequential():
    model = small_parnet("cuda")
    parallel = ParallelParNet(model, mode="cuda_streams")
    x = torch.randn(4, 3, 64, 64, device="cuda")
    with torch.inference_mode():
        torch.testing.assert_close(parallel(x), model(x))


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 3, reason="needs 3 GPUs")
def test_one_device_per_stream_equals_sequential():
    model = small_parnet("cuda:0")
    parallel = ParallelParNet(model, mode="devices")
    x = torch.randn(2, 3, 64, 64, device="cuda:0")
    with torch.inference_mode():
        torch.testing.assert_close(parallel(x), model(x))
