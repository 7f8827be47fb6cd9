"""MONAI's classification networks by name (``monai:DenseNet121``, ``monai:resnet18``...), 2-D or 3-D.

MONAI names its arguments per family: ``in_channels``/``out_channels`` (DenseNet), ``n_input_channels``/
``num_classes`` (ResNet), ``in_channels``/``num_classes`` (SENet); this module hides that. MONAI is imported
only when such a network is built.
"""

from __future__ import annotations

from torch import nn

from camviewer.core.errors import PretrainedWeightsUnavailable, UnknownArchitecture
from camviewer.core.model.registry import MONAI_ARCHS, MONAI_PREFIX


def build_monai(arch: str, num_classes: int, channels: int, spatial_dims: int, pretrained: bool) -> nn.Module:
    """A fresh MONAI network ``monai:NAME`` with ``num_classes`` outputs and ``channels`` input channels."""
    name = arch.removeprefix(MONAI_PREFIX)
    if name not in MONAI_ARCHS:
        raise UnknownArchitecture(arch)
    if pretrained:
        raise PretrainedWeightsUnavailable(arch, "camviewer has no source of pretrained weights for MONAI networks")
    from monai.networks import nets

    if spatial_dims not in (2, 3):
        raise UnknownArchitecture(f"{arch} with {spatial_dims} spatial dimensions")
    if name.startswith("DenseNet"):
        sizes = {"in_channels": channels, "out_channels": num_classes}
    elif name.startswith("resnet"):
        sizes = {"n_input_channels": channels, "num_classes": num_classes}
    else:
        sizes = {"in_channels": channels, "num_classes": num_classes}
    return getattr(nets, name)(spatial_dims=spatial_dims, **sizes)
