"""Segment your own images: a few annotated supports, one query, a label map at the query's size.

    from panet_min import Predictor, load
    from panet_min.supports import Support
    predictor = Predictor(load())                       # or PANet.from_checkpoint("run/checkpoint.pt")
    result = predictor.segment([Support("cow1.jpg", box=(40, 60, 250, 200))], "cow2.jpg")
    result.labels          # uint8 [H, W] at the query's own size: 0 background, n = way n
    result.probabilities   # float32 [N, H, W]: P(way n) per pixel (softmax of the model's logits)
    result.overlay().save("cow2-overlay.png")

Supports (:mod:`panet_min.supports`): 1-way, a list of K supports (or one); N-way, a dict
{class name: [K supports]} or a list of N lists. Every image is resized to ``image_size`` and
normalised exactly as the episodes are (``panet_min.data.transforms``); the model's logits at that
size are upsampled bilinearly to the query's own size, then softmax and argmax.

Command line (1 way; ``--support`` repeated for K shots, each followed by its one annotation)::

    python -m panet_min.predict --weights imagenet --support cow1.jpg --support-box 40,60,250,200 \\
        --support cow3.jpg --support-scribble "30,100 120,110 200,90" --query cow2.jpg --out overlay.png

Bad input (a missing file, no image, an empty mask, a box or scribble point off the image, a mask of
another size, a support without annotation) -> one line naming the problem and the fix, exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.transforms import normalize, resize_image
from .model import predict
from .segment import upsample_logits
from .supports import Support, read_image, support_arrays

DEFAULT_IMAGE_SIZE = 417  # the original's evaluation size


@dataclass
class Segmentation:
    """What :meth:`Predictor.segment` returns, at the query's own size H x W.

    ``labels`` uint8 [H,W] (0 background, n = way n); ``probabilities`` float32 [N,H,W] (way n at
    index n-1; with the background's they sum to 1); ``image`` the query, uint8 RGB [H,W,3];
    ``classes`` the ways' names.
    """
    labels: np.ndarray
    probabilities: np.ndarray
    image: np.ndarray
    classes: list

    @property
    def foreground(self) -> np.ndarray:
        """float32 [H,W]: the probability that a pixel belongs to any way (1 - P(background))."""
        return self.probabilities.sum(axis=0)

    def overlay(self, alpha: float = 0.55):
        """The query with each way's pixels tinted in its colour (``panet_min.viz.overlays``): a PIL image."""
        from PIL import Image

        from .viz.overlays import overlay_labels

        return Image.fromarray((overlay_labels(self.image, self.labels, alpha) * 255).round().astype(np.uint8))


def _ways(supports) -> list[tuple[str, list]]:
    """[(name, [Support, ...]), ...] from a Support, a list of K, a dict {name: list} or a list of N lists."""
    def shots(value, name):
        value = [value] if isinstance(value, (Support, dict)) else list(value)
        if not value:
            raise ValueError(f"{name} has no support: give at least one annotated image")
        return [_as_support(s, name) for s in value]

    if isinstance(supports, dict) and not set(supports) <= {"image", "mask", "box", "scribble", "background"}:
        return [(str(name), shots(value, f"class {name!r}")) for name, value in supports.items()]
    if isinstance(supports, (list, tuple)) and supports and all(isinstance(s, (list, tuple)) for s in supports):
        return [(f"way {n + 1}", shots(value, f"way {n + 1}")) for n, value in enumerate(supports)]
    return [("foreground", shots(supports, "the class"))]


def _as_support(value, name) -> Support:
    if isinstance(value, Support):
        return value
    try:
        return Support(**value)
    except TypeError:  # not a mapping, or keys Support does not have
        raise ValueError(f"{name}: {value!r:.80} is not a support: give panet_min.supports.Support(image, "
                         "mask=... | box=... | scribble=...) or a dict with those keys") from None


class Predictor:
    """Few-shot segmentation of your own images with a :class:`~panet_min.PANet` (book chapter 5).

    ``model``: a PANet (``panet_min.load()``, ``PANet.from_checkpoint(...)``); ``image_size``: the side
    every image is resized to for the model (417 as the original; a checkpoint trained at 241 is best
    used at 241); ``device``: None keeps the model where it is, else "auto", "cpu", "cuda", "mps" or a
    torch.device (the model is moved there).
    """

    def __init__(self, model, image_size: int = DEFAULT_IMAGE_SIZE, device=None):
        from .runsetup import resolve_device

        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 16:
            raise ValueError(f"image_size must be an integer >= 16, got {image_size!r}")
        if not hasattr(model, "encoder"):
            raise ValueError(f"model must be a panet_min.PANet, got {type(model).__name__}")
        if device is not None:
            model.to(resolve_device(device) if isinstance(device, str) else torch.device(device))
        self.model, self.image_size = model, int(image_size)
        self.device = next(model.parameters()).device

    def episode(self, supports, query) -> tuple[dict, np.ndarray, list[str]]:
        """The 1-episode batch the model gets: tensors support_images [1,N,K,3,S,S], support_fg and
        support_bg [1,N,K,S,S], query_images [1,1,3,S,S]; and the query as read (uint8 [H,W,3]) and
        the ways' names."""
        ways, S = _ways(supports), self.image_size
        K = {len(shots) for _, shots in ways}
        if len(K) > 1:
            raise ValueError(f"every class needs the same number of supports, got {[len(s) for _, s in ways]}")
        N, K = len(ways), K.pop()
        images = np.empty((N, K, 3, S, S), np.float32)
        fg, bg = np.empty((N, K, S, S), np.float32), np.empty((N, K, S, S), np.float32)
        for n, (name, shots) in enumerate(ways):
            for k, support in enumerate(shots):
                what = f"support {k + 1}" + (f" of {name}" if N > 1 else "")
                if isinstance(support.image, (str, Path)):
                    what += f" ({support.image})"
                rgb, fg[n, k], bg[n, k] = support_arrays(support, S, what)
                images[n, k] = normalize(rgb)
        query_rgb = read_image(query, "query image")
        t = lambda a: torch.from_numpy(a)[None].to(self.device)
        batch = {"support_images": t(images), "support_fg": t(fg), "support_bg": t(bg),
                 "query_images": t(normalize(resize_image(query_rgb, S))[None])}
        return batch, query_rgb, [name for name, _ in ways]

    @torch.no_grad()
    def segment(self, supports, query) -> Segmentation:
        """Segment ``query`` (a path, PIL image or array) given ``supports`` (see the module docstring)."""
        batch, query_rgb, names = self.episode(supports, query)
        was_training = self.model.training
        try:
            out = self.model.eval()(batch["support_images"], batch["support_fg"], batch["support_bg"],
                                    batch["query_images"])
        finally:
            self.model.train(was_training)
        # back to the query's own pixels: the logits are upsampled, then softmax and argmax
        logits = upsample_logits(out.logits[0, 0].float(), query_rgb.shape[:2])  # [1+N, H, W]
        probabilities = logits.softmax(dim=0)[1:].cpu().numpy().astype(np.float32)
        labels = predict(logits).to(torch.uint8).cpu().numpy()
        return Segmentation(labels, probabilities, query_rgb, names)


# ---------------------------------------------------------------------------------------------
# Command line

class _InOrder(argparse.Action):
    """Keeps --support and its annotation flags in the order given (an annotation belongs to the
    --support before it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((option_string, values))
        setattr(namespace, self.dest, items)


def parse_supports(items) -> list[Support]:
    """[(flag, value), ...] in command-line order -> supports; ValueError for a misplaced or missing flag."""
    supports, kinds = [], {"--support-mask": "mask", "--support-box": "box", "--support-scribble": "scribble"}
    for flag, value in items or []:
        if flag == "--support":
            supports.append({"image": value})
            continue
        if not supports:
            raise ValueError(f"{flag} {value!r} comes before any --support IMG: put it after the image it annotates")
        current = supports[-1]
        if flag == "--support-bg-scribble":
            current.setdefault("background", []).append(value)
        elif flag == "--support-scribble":
            current.setdefault("scribble", []).append(value)  # each flag one stroke
        elif kinds[flag] in current:
            raise ValueError(f"--support {current['image']} has two {flag} flags: give one (or a --support each)")
        else:
            current[kinds[flag]] = value
    for s in supports:
        if not {"mask", "box", "scribble"} & set(s):
            raise ValueError(f"--support {s['image']} has no annotation: follow it with --support-mask PNG, "
                             "--support-box x0,y0,x1,y1 or --support-scribble \"x,y x,y ...\"")
    if not supports:
        raise ValueError("no --support IMG given: give at least one annotated support image")
    return [Support(**s) for s in supports]


def _save_image(image, path: Path) -> None:
    from PIL import Image

    from .checkpoint import atomic_write_bytes

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format of {path}: name it .png or .jpg")
    atomic_write_bytes(path, lambda f: image.save(f, format=fmt))


def main(argv=None) -> int:
    from .config import DEVICES
    from .runsetup import resolve_device, run_command

    parser = argparse.ArgumentParser(prog="python -m panet_min.predict", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", type=Path, help="a checkpoint.pt of panet_min.train")
    model.add_argument("--weights", default=None,
                       help='untrained model: "imagenet" (the default), "torchvision", a file, or "none"')
    parser.add_argument("--backbone", default="vgg16", choices=("vgg16", "small"), help="with --weights")
    parser.add_argument("--support", action=_InOrder, dest="items", metavar="IMG", help="a support image (repeat for K shots)")
    parser.add_argument("--support-mask", action=_InOrder, dest="items", metavar="PNG", help="its mask (nonzero = object)")
    parser.add_argument("--support-box", action=_InOrder, dest="items", metavar="x0,y0,x1,y1", help="its box, in pixels")
    parser.add_argument("--support-scribble", action=_InOrder, dest="items", metavar='"x,y x,y ..."',
                        help="a stroke on the object (repeat for more strokes)")
    parser.add_argument("--support-bg-scribble", action=_InOrder, dest="items", metavar='"x,y x,y ..."',
                        help="a stroke on the background (optional; default: every pixel off the annotation)")
    parser.add_argument("--query", help="the image to segment")
    parser.add_argument("--out", type=Path, help="the query with the prediction tinted (.png or .jpg)")
    parser.add_argument("--mask-out", type=Path, help="the label map, a palette PNG (0 background, 1 object)")
    parser.add_argument("--image-size", type=int, default=None,
                        help=f"model input side (default: the checkpoint's training size, else {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="auto: cuda, then mps, then cpu")
    args = parser.parse_args(argv)

    def body():
        if not args.query or not args.out:
            raise ValueError("give --query IMG (the image to segment) and --out PNG (where the overlay goes)")
        supports = parse_supports(args.items)
        device = resolve_device(args.device)
        if args.checkpoint is not None:
            from .model import PANet

            net = PANet.from_checkpoint(args.checkpoint, map_location=device)
            size = (net.config or {}).get("image_size", DEFAULT_IMAGE_SIZE)
        else:
            from .loading import load

            net = load(args.weights or "imagenet", backbone=args.backbone, device=device)
            size = DEFAULT_IMAGE_SIZE
        result = Predictor(net, args.image_size or size).segment(supports, args.query)
        _save_image(result.overlay(), args.out)
        if args.mask_out is not None:
            from .checkpoint import write_error
            from .data.classlists import save_label_png

            try:
                save_label_png(result.labels, args.mask_out)
            except OSError as e:
                raise write_error(args.mask_out, e) from e
        print(f"{args.query}: {float((result.labels > 0).mean()):.1%} of the pixels are the object "
              f"({len(supports)} support{'s' * (len(supports) > 1)}, {net.weights_info.split(' (')[0]}); overlay: {args.out}"
              + (f"; label map: {args.mask_out}" if args.mask_out else ""))

    return run_command(parser.prog, body)


if __name__ == "__main__":
    sys.exit(main())
