"""The networks: ResNet encoders (:mod:`~vidcolor.models.resnet`, torchvision's key names), the
U-Net decoder (:mod:`~vidcolor.models.unet`), the ab bins of its head
(:mod:`~vidcolor.models.abbins`), DeOldify's generators (:mod:`~vidcolor.models.deoldify` with
its layers and norms) and the name -> builder table (:mod:`~vidcolor.models.registry`). Weights
files are :mod:`vidcolor.models.weights`'s.
"""

from vidcolor.models.registry import build_model, create_model, list_models

__all__ = ["build_model", "create_model", "list_models"]
