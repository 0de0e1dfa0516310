"""Models from weights and checkpoints, in one line each.

    model = panet_min.load()                                    # PANet on the pinned ImageNet VGG-16
    model = panet_min.PANet.from_checkpoint("runs/f0/checkpoint.pt")   # a trained model, and its config

Both return the model in eval mode. A checkpoint is read with ``torch.load(weights_only=True)``
(no pickled code runs) and its stored training config is checked field by field
(:class:`panet_min.config.TrainConfig`); :func:`check_compatible` refuses to score a model on
classes it was trained on. Training builds its model with :func:`build_model`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .backbone import build_encoder, copy_conv_tensors
from .checkpoint import load_checkpoint
from .model import PANet


def build_model(config, device: torch.device, par: bool | None = None, check_inputs: bool | None = None) -> PANet:
    """PANet with ``config``'s encoder, weights and alpha, on ``device`` (channels-last when the
    config asks for it or its precision is bf16). ``par`` None: PAR on when ``config.par_weight > 0``.
    ``check_inputs`` None: on for the CPU (a GPU loop skips the host sync)."""
    weights = None if config.weights in (None, "none", "random") else config.weights
    par = getattr(config, "par_weight", 0) > 0 if par is None else par
    model = PANet(build_encoder(config.backbone, weights), alpha=config.alpha, par=par,
                  check_inputs=device.type == "cpu" if check_inputs is None else check_inputs)
    return to_device(model, device, config.channels_last or getattr(config, "precision", None) == "bf16")


def to_device(model: PANet, device, channels_last: bool = False) -> PANet:
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def load_model_weights(model: PANet, state: dict) -> None:
    """Load a state dict of :class:`PANet` (``encoder.features.N.*``), or an original PANet
    snapshot (``module.encoder...``): then the conv tensors are copied in order, as the
    original's encoder initialisation does."""
    try:
        model.load_state_dict(state)
        return
    except RuntimeError as e:
        error = e
    tensors = [v for k, v in state.items() if "encoder" in k and k.endswith(("weight", "bias"))]
    try:
        copy_conv_tensors(model.encoder, tensors)
    except ValueError as e:
        raise ValueError(f"checkpoint does not fit the {getattr(model.encoder, 'name', '')} encoder: {e}; "
                         f"loading it as a panet_min state dict said: {error}") from None


def checkpoint_config(ckpt: dict, path) -> dict | None:
    """The training config stored in a checkpoint, checked as a :class:`TrainConfig` (None for a
    plain state dict, which has none). A config that is not one -> ValueError naming the file."""
    from .config import TrainConfig

    if "config" not in ckpt:
        return None
    cfg = ckpt["config"]
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: its 'config' is a {type(cfg).__name__}, not a training config")
    try:
        TrainConfig.from_dict(cfg)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: its training config is not valid ({e}); was it written by panet_min.train?") from None
    return dict(cfg)


def model_state(ckpt: dict, path) -> dict:
    """The model's state dict in a checkpoint (``ckpt["model"]``, or the checkpoint itself when it
    is a plain state dict of tensors)."""
    state = ckpt.get("model", ckpt)
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no model weights (expected 'model': a state dict of tensors)")
    return state


def checkpoint_weights_info(ckpt: dict, path) -> str:
    """What a checkpoint's weights are, as results and logs record it."""
    step = ckpt.get("step")
    init = ckpt.get("weights_info", "unknown initialisation")
    return (f"trained by panet_min.train ({step} steps), initialised from: {init}" if step is not None
            else f"weights from {Path(path).name}")


def from_checkpoint(path, map_location="cpu", alpha: float | None = None) -> PANet:
    """The model a ``checkpoint.pt`` (or ``step-NNNNN.pt``) of :mod:`panet_min.train` holds, in eval
    mode, with ``model.config`` (its training config, or None for a plain state dict) and
    ``model.checkpoint_step``. ``alpha`` None: the trained cosine scale."""
    ckpt = load_checkpoint(path, map_location=map_location)
    cfg = checkpoint_config(ckpt, path) or {}
    model = PANet(build_encoder(cfg.get("backbone", "vgg16"), None),
                  alpha=float(cfg.get("alpha", 20.0)) if alpha is None else alpha, par=False)
    load_model_weights(model, model_state(ckpt, path))
    step = ckpt.get("step")
    model.encoder.weights_info = checkpoint_weights_info(ckpt, path)
    model.config, model.checkpoint_step = (cfg or None), step
    return model.to(map_location).eval()


def load(weights: str = "imagenet", backbone: str = "vgg16", alpha: float = 20.0, device="cpu") -> PANet:
    """PANet with no training, in eval mode: ``weights`` "imagenet" (the pinned VGG-16, prepared by
    ``python -m panet_min.prepare weights``), "torchvision", a path, or "none" (random)."""
    weights = None if weights in (None, "none", "random") else weights
    model = PANet(build_encoder(backbone, weights), alpha=alpha, par=False)
    model.config, model.checkpoint_step = None, None
    return model.to(device).eval()


def check_compatible(config: dict | None, dataset: str, test_classes, path, allow_overlap: bool = False) -> None:
    """Refuse a model trained on another dataset, or on a class under test (a checkpoint of another
    fold): ValueError naming the checkpoint and the fix. ``allow_overlap`` lets the class check pass
    (the result records it). A plain state dict (no config) cannot be checked and passes."""
    from .data import class_names, fold_classes

    if not config:
        return
    trained_on = config.get("dataset")
    if trained_on != dataset:
        raise ValueError(f"{path} was trained on {trained_on}, not {dataset}: evaluate it on --dataset {trained_on}, "
                         "or give a checkpoint trained on this dataset")
    trained = set(fold_classes(dataset, int(config.get("fold", 0)), train=True,
                               stuff_as_training=bool(config.get("stuff_as_training"))))
    shared = sorted(trained & {int(c) for c in test_classes})
    if shared and not allow_overlap:
        names = class_names(dataset)
        raise ValueError(f"{path} was trained on fold {config.get('fold')}, whose training classes include "
                         f"{', '.join(names[c - 1] for c in shared)} under test here: evaluate it on --fold "
                         f"{config.get('fold')} (or pass --allow-class-overlap to score it anyway, recorded)")


__all__ = ["build_model", "load_model_weights", "from_checkpoint", "load", "check_compatible", "checkpoint_weights_info"]
