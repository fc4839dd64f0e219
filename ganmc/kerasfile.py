"""A ``.keras`` file's cost before Keras builds it: the weights its config declares.

Keras allocates every layer's weights when it builds a model from its config, before it
reads any weight: an 18 kB file declaring ``Dense(30000)`` layers took over 3 GB. The config
(``config.json`` inside the zip) and the zip's declared sizes are read here first, and a
network over the budget is refused with one line.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

from ganmc.errors import ModelError, one_line

#: Most weights one network may declare (the shipped networks have 50,000 to 250,000).
MAX_NETWORK_PARAMS = 20_000_000
#: Most bytes a ``.keras`` file's members may inflate to, together (its weights as float32,
#: and the config).
MAX_NETWORK_FILE_BYTES = 4 * MAX_NETWORK_PARAMS + 10_000_000
_CONFIG = "config.json"


def check_network_file(file: Path | str, shown: Path | str) -> int:
    """Refuse a ``.keras`` file whose layers or members would take too much memory, from its
    config and the zip's directory, without building anything. Returns the weights counted.

    Raises:
        ModelError: One line naming ``shown``, if the file is over a budget or its config
            unreadable.
    """
    try:
        with zipfile.ZipFile(file) as zf:
            infos = zf.infolist()
            inflated = sum(i.file_size for i in infos)
            if inflated > MAX_NETWORK_FILE_BYTES:
                raise ModelError(f"{shown}: its parts would take {inflated / 2**20:,.0f} MB, "
                                 f"more than the {MAX_NETWORK_FILE_BYTES / 2**20:,.0f} MB a "
                                 f"network may")
            config = json.loads(zf.read(_CONFIG))
    except ModelError:
        raise
    except RecursionError:
        raise ModelError(f"{shown}: cannot load (its config is nested too deeply)") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, NotImplementedError,
            RuntimeError) as exc:
        raise ModelError(f"{shown}: cannot load ({type(exc).__name__}: "
                         f"{one_line(exc, 200)})") from None
    layers = list(_layers(config))
    widest = max((w for layer in layers for w in _widths(layer)), default=1)
    params = sum(_weights(layer, widest) for layer in layers)
    if params > MAX_NETWORK_PARAMS:
        raise ModelError(f"{shown}: its layers declare about {params:,} weights, more than the "
                         f"{MAX_NETWORK_PARAMS:,} a network may have")
    return params


def _layers(node: Any):
    """Every ``{"class_name", "config"}`` dict in a Keras config, nested models included."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class_name"), str) and isinstance(item.get("config"), dict):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _dims(value: Any) -> list[int]:
    return [_int(d) for d in value] if isinstance(value, list) else []


def _input_shape(layer: dict) -> Any:
    build = layer.get("build_config")
    return build.get("input_shape") if isinstance(build, dict) else None


def _widths(layer: dict) -> list[int]:
    c = layer["config"]
    return [*_dims(_input_shape(layer)), *_dims(c.get("batch_shape")),
            *(_int(c.get(k)) for k in ("units", "filters", "output_dim", "input_dim"))]


def _weights(layer: dict, widest: int) -> int:
    """Weights a layer allocates, from its config and the input shape it declares; where it
    declares none, the widest width of the file stands in for its input (an over-estimate)."""
    c, kind = layer["config"], layer["class_name"]
    shape = _dims(_input_shape(layer))
    if c.get("data_format") == "channels_first" and len(shape) > 2:
        shape = shape[:2]
    inputs = (shape[-1] if shape else 0) or widest
    units, filters = _int(c.get("units")), _int(c.get("filters"))
    kernel = math.prod(_dims(c.get("kernel_size")) or [_int(c.get("kernel_size")) or 1]) or 1
    depth = _int(c.get("depth_multiplier")) or 1
    if units:  # Dense and kin
        return (inputs + 1) * units
    if "Separable" in kind:
        return kernel * inputs * depth + inputs * depth * filters + filters
    if "Depthwise" in kind:
        return kernel * inputs * depth + inputs * depth
    if filters:  # Conv*, Conv*Transpose
        return kernel * inputs * filters + filters
    if _int(c.get("input_dim")) and _int(c.get("output_dim")):  # Embedding
        return c["input_dim"] * c["output_dim"]
    if "Normalization" in kind:
        return 4 * inputs
    return 0
