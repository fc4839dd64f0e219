"""A ``.keras`` file's cost before Keras builds it: its weights and its layers' outputs, from
its config.

Keras allocates every layer's weights when it builds a model from its config, before it
reads any weight: an 18 kB file declaring ``Dense(30000)`` layers took over 3 GB, and a layer
whose size is not a ``units`` (an ``EinsumDense`` of output 22,000, a ``RepeatVector`` of
10⁸ feeding a ``Dense``) took as much. The config (``config.json`` inside the zip) and the
zip's declared sizes are read here first: the network is followed from its input, layer by
layer, with the output shape of each worked out from its settings (never from the shapes the
file claims), and its weights and outputs counted. Only the kinds of layer ganmc's networks
are made of are followed (:data:`LAYERS`); a file with any other is refused, as is one over
a budget, in one line.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

from ganmc.core.errors import ModelError, one_line

#: Most weights one network may declare (the shipped networks have 50,000 to 250,000).
MAX_NETWORK_PARAMS = 20_000_000
#: Most values one image may make in a network's layer outputs together (ganmc's networks
#: make under a third of it, a test checks; a Monte Carlo batch on a CPU holds 8,192 images).
MAX_NETWORK_ACTIVATIONS = 100_000
#: Most bytes a ``.keras`` file's members may inflate to, together (its weights as float32,
#: and the config).
MAX_NETWORK_FILE_BYTES = 4 * MAX_NETWORK_PARAMS + 10_000_000
_CONFIG = "config.json"

#: The kinds of layer ganmc's networks are made of (:mod:`ganmc.nets.networks`), and those that
#: pass their input's shape on unchanged.
_SAME_SHAPE = frozenset({"LeakyReLU", "ReLU", "Activation", "Dropout", "Identity",
                         "BatchNormalization", "LayerNormalization", "GaussianNoise"})
LAYERS = frozenset({"InputLayer", "Dense", "Conv2D", "Conv2DTranspose", "Flatten", "Reshape",
                    *_SAME_SHAPE})


class _Refused(Exception):
    """Why a config cannot be checked (said after the file's name)."""


def check_network_file(file: Path | str, shown: Path | str) -> int:
    """Refuse a ``.keras`` file whose layers or members would take too much memory, or that
    holds a kind of layer ganmc's networks never use, from its config and the zip's directory,
    without building anything. Returns the weights counted.

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
    try:
        params, values = network_cost(config)
    except _Refused as exc:
        raise ModelError(f"{shown}: cannot load: {exc}") from None
    if params > MAX_NETWORK_PARAMS:
        raise ModelError(f"{shown}: its layers declare about {params:,} weights, more than the "
                         f"{MAX_NETWORK_PARAMS:,} a network may have")
    if values > MAX_NETWORK_ACTIVATIONS:
        raise ModelError(f"{shown}: its layers would make about {values:,} values per image, "
                         f"more than the {MAX_NETWORK_ACTIVATIONS:,} a network may")
    return params


def network_cost(config: Any) -> tuple[int, int]:
    """The weights a Keras model config builds and the values its layers' outputs hold per
    image, worked out layer by layer from its input.

    Raises:
        _Refused: If it is not a ``Functional`` or ``Sequential`` model of :data:`LAYERS`
            with a fixed input shape, or its layers do not fit together.
    """
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise _Refused("its config is not a Keras model's")
    kind, body = config.get("class_name"), config["config"]
    layers = body.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) and isinstance(
            layer.get("config"), dict) for layer in layers):
        raise _Refused("its config lists no layers")
    for layer in layers:
        if layer.get("class_name") not in LAYERS:
            raise _Refused(f"its layer {one_line(layer['config'].get('name'), 40)!r} is a "
                           f"{one_line(layer.get('class_name'), 40)}, a kind of layer ganmc's "
                           f"networks are not made of")
    if kind == "Sequential":
        return _sequential(body, layers, config)
    if kind == "Functional":
        return _functional(layers)
    raise _Refused(f"it is a {one_line(kind, 40)}, not a Functional or Sequential model")


def _sequential(body: dict, layers: list[dict], config: dict) -> tuple[int, int]:
    if layers and layers[0]["class_name"] == "InputLayer":
        shape, layers = _input_shape(layers[0]), layers[1:]
    else:
        build = config.get("build_config")
        declared = body.get("build_input_shape") or (
            build.get("input_shape") if isinstance(build, dict) else None)
        shape = _shape(declared[1:] if isinstance(declared, list) else None, "its input")
    params, values = 0, _size(shape)
    for layer in layers:
        shape, weights = _layer(layer, shape)
        params, values = params + weights, values + _size(shape)
    return params, values


def _functional(layers: list[dict]) -> tuple[int, int]:
    by_name = {layer["config"].get("name", layer.get("name")): layer for layer in layers}
    outputs: dict[tuple[str, int], tuple[int, ...]] = {}
    params = values = 0
    todo = list(layers)
    while todo:  # layers in any order; each pass settles those whose inputs are known
        waiting = []
        for layer in todo:
            name = layer["config"].get("name", layer.get("name"))
            if layer["class_name"] == "InputLayer":
                outputs[(name, 0)] = shape = _input_shape(layer)
                values += _size(shape)
                continue
            nodes = layer.get("inbound_nodes")
            if not isinstance(nodes, list) or not nodes:
                raise _Refused(f"its layer {one_line(name, 40)!r} has no input")
            sources = [_source(node, name) for node in nodes]
            if not all(s in outputs for s in sources):
                if any(s[0] not in by_name for s in sources):
                    raise _Refused(f"its layer {one_line(name, 40)!r} takes the output of a "
                                   f"layer it does not have")
                waiting.append(layer)
                continue
            for i, source in enumerate(sources):
                outputs[(name, i)], weights = _layer(layer, outputs[source])
                values += _size(outputs[(name, i)])
                if i == 0:  # a layer called again shares its weights
                    params += weights
        if len(waiting) == len(todo):
            raise _Refused("its layers' inputs go round in a circle")
        todo = waiting
    return params, values


def _source(node: Any, name: str) -> tuple[str, int]:
    """The (layer, call) whose output a call of a one-input layer takes."""
    args = node.get("args") if isinstance(node, dict) else None
    tensor = args[0] if isinstance(args, list) and len(args) == 1 else None
    config = tensor.get("config") if isinstance(tensor, dict) else None
    history = config.get("keras_history") if isinstance(config, dict) else None
    if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
            and _whole(history[1]) and history[1] >= 0):
        raise _Refused(f"its layer {one_line(name, 40)!r} does not take one input")
    return history[0], history[1]


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _shape(dims: Any, what: str) -> tuple[int, ...]:
    if not (isinstance(dims, list) and dims and all(_whole(d) and d > 0 for d in dims)):
        raise _Refused(f"{what} has no fixed shape ({one_line(dims, 60)})")
    return tuple(dims)


def _input_shape(layer: dict) -> tuple[int, ...]:
    c = layer["config"]
    batch = c.get("batch_shape") or c.get("batch_input_shape")
    return _shape(batch[1:] if isinstance(batch, list) else None, "its input")


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _pair(value: Any, what: str, default: int | None = None) -> tuple[int, int]:
    if value is None and default is not None:
        return default, default
    if _whole(value):
        value = [value, value]
    if not (isinstance(value, list) and len(value) == 2 and all(_whole(v) and v > 0
                                                              for v in value)):
        raise _Refused(f"a layer's {what} is not two whole numbers ({one_line(value, 40)})")
    return value[0], value[1]


def _bias(c: dict) -> int:
    return 0 if c.get("use_bias") is False else 1


def _layer(layer: dict, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """A layer's output shape (without the batch) and its weights, from its input's shape
    and its settings."""
    kind, c = layer["class_name"], layer["config"]
    name = one_line(c.get("name"), 40)
    if kind in _SAME_SHAPE:
        axis = c.get("axis", -1)
        axis = axis if _whole(axis) and -len(shape) <= axis <= len(shape) and axis else -1
        width = shape[axis if axis < 0 else axis - 1]
        return shape, (4 * width if kind == "BatchNormalization" else
                       2 * width if kind == "LayerNormalization" else 0)
    if kind == "Flatten":
        return (_size(shape),), 0
    if kind == "Reshape":
        target = c.get("target_shape")
        if not (isinstance(target, list) and target
                and all(_whole(d) and (d > 0 or d == -1) for d in target)
                and target.count(-1) <= 1):
            raise _Refused(f"its layer {name!r} reshapes to {one_line(target, 40)}")
        known = _size(tuple(d for d in target if d != -1))
        out = tuple(_size(shape) // known if d == -1 else d for d in target)
        if _size(out) != _size(shape):
            raise _Refused(f"its layer {name!r} reshapes {shape} to {tuple(target)}")
        return out, 0
    if kind == "Dense":
        units = c.get("units")
        if not (_whole(units) and units > 0):
            raise _Refused(f"its layer {name!r} has {one_line(units, 40)} units")
        return (*shape[:-1], units), (shape[-1] + _bias(c)) * units
    # Conv2D, Conv2DTranspose: (height, width, channels), channels last
    if len(shape) != 3:
        raise _Refused(f"its layer {name!r} takes images, not {shape}")
    first = c.get("data_format") == "channels_first"
    channels, h, w = (shape[0], *shape[1:]) if first else (shape[2], *shape[:2])
    filters = c.get("filters")
    if not (_whole(filters) and filters > 0):
        raise _Refused(f"its layer {name!r} has {one_line(filters, 40)} filters")
    k = _pair(c.get("kernel_size"), "kernel size")
    s = _pair(c.get("strides"), "strides", 1)
    d = _pair(c.get("dilation_rate"), "dilation rate", 1)
    span = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    same = c.get("padding", "valid") == "same"
    if kind == "Conv2D":
        out = [-(-n // s[i]) if same else (n - span[i]) // s[i] + 1 for i, n in enumerate((h, w))]
    else:
        extra = c.get("output_padding")
        pad = _pair(extra, "output padding") if extra is not None else (0, 0)
        out = [n * s[i] + pad[i] if same else (n - 1) * s[i] + span[i] + pad[i]
               for i, n in enumerate((h, w))]
    if min(out) < 1:
        raise _Refused(f"its layer {name!r} makes an empty output from {shape}")
    weights = k[0] * k[1] * channels * filters + _bias(c) * filters
    return ((filters, *out) if first else (*out, filters)), weights
