"""Models whose depth is the main dial: MLP, CNNs, ResNets with plain twins, ParNet."""

from depthlab.models import cnn, mlp, resnet, resnet_cifar  # noqa: F401  (registers the models)
from depthlab.models import parnet  # noqa: F401  (registers parnet_*)
from depthlab.models.registry import MODELS, create_model, list_models, model_config, register_model

__all__ = ["MODELS", "create_model", "list_models", "model_config", "register_model"]
