"""Models whose depth is the main dial: MLP, CNNs, ResNets with plain twins, ParNet, transformers."""

from depthlab.models import (  # noqa: F401  (registers the models)
    basic_mlp,
    cnn,
    mlp,
    parnet,  # noqa: F401  (registers parnet_*)
    resnet,
    resnet_cifar,
    transformer,
)
from depthlab.models.registry import (
    MODELS,
    builder_source_hash,
    create_model,
    list_models,
    model_config,
    register_model,
)

__all__ = ["MODELS", "builder_source_hash", "create_model", "list_models", "model_config", "register_model"]
