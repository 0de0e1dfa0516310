"""Class names and class folds: PASCAL-5i, COCO-20i (PANet's split), MSRC-5i and CamVid folds.

Inside ``panet_min`` every dataset speaks one label language: 0 = background, 1..C = global class
ids (``C = n_classes(dataset)``), 255 = ignore. A *fold* splits the C classes into test classes
(never seen in training) and training classes.

- **PASCAL-5i** (Shaban et al. 2017, as PANet): fold i tests on the VOC ids 5i+1 .. 5i+5 and trains
  on the other 15.
- **COCO-20i, PANet's split**: fold i tests on the 20 *consecutive* category indices
  20i+1 .. 20i+20 in COCO's category order (``COCO_CLASSES``). Later papers use a different
  "every 4th class" split (class 4k+i+1); results are not comparable across the two.
- **CamVid folds** (this project's benchmark, *not* PASCAL-5i): CamVid has only 11 classes, so two
  folds alternate the ids. Fold 0 tests on the odd ids {1 Sky, 3 Pole, 5 Pavement, 7 SignSymbol,
  9 Car, 11 Bicyclist} and trains on the even ids {2 Building, 4 Road, 6 Tree, 8 Fence,
  10 Pedestrian}; fold 1 the other way round. Alternating ids puts "stuff" (sky, road, building)
  and "things" (car, pedestrian, pole) on both sides of every fold, so each fold's test classes
  include both kinds and no fold is trivially easy or hard.
- **MSRC-5i** (this book's default real benchmark, *not* PASCAL-5i): 3 folds of 5 of MSRC-v2's 15
  object classes (``MSRC_FOLDS``); a fold trains on the other 10. Face and body share fold 2
  (they appear together). Horse (3 images) and mountain are never a way, as the dataset's authors
  advise; the stuff classes (building, grass, tree, sky, water, road) are background, as
  everything outside the 20 objects is in PASCAL-5i. ``stuff_as_training=True`` adds building,
  grass, tree, sky and water to the training classes: the book's leak ablation.
"""

from __future__ import annotations

from .msrc import MSRC_CLASSES

PASCAL_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle",
    "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person",
    "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

# COCO 2014 category order (category ids 1..90 with gaps, listed by increasing id): the
# global class id is the 1-based index in this tuple, as PANet's ``cat_ids[i - 1]``.
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

# SegNet's 11-class CamVid; stored label L (0..10) is global id L + 1, void (11) is 255.
CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)

# MSRC-v2 legend order (global id = index + 1); decoding in msrc.py.
_MSRC_ID = {name: i + 1 for i, name in enumerate(MSRC_CLASSES)}
MSRC_FOLDS = (
    ("aeroplane", "bicycle", "bird", "boat", "book"),
    ("car", "cat", "chair", "cow", "dog"),
    ("face", "body", "flower", "sheep", "sign"),
)
# The stuff classes the leak ablation trains on (road is left as background, as in its measurement).
MSRC_STUFF = ("building", "grass", "tree", "sky", "water")

_NAMES = {"pascal": PASCAL_CLASSES, "coco": COCO_CLASSES, "camvid": CAMVID_CLASSES,
          "msrc": MSRC_CLASSES}
_N_FOLDS = {"pascal": 4, "coco": 4, "camvid": 2, "msrc": 3}


def _canonical(dataset: str) -> str:
    # The generated set is written in VOC layout with 20 classes, so PASCAL-5i applies unchanged.
    name = {"synthetic": "pascal", "voc": "pascal", "pascal5i": "pascal",
            "coco20i": "coco"}.get(str(dataset).lower(), str(dataset).lower())
    if name not in _NAMES:
        raise ValueError(f"unknown dataset {dataset!r}: expected 'msrc', 'pascal', 'coco', 'camvid' "
                         "or 'synthetic'")
    return name


def class_names(dataset: str) -> tuple[str, ...]:
    """Names of the classes of ``dataset``; entry ``c - 1`` names global id ``c``."""
    return _NAMES[_canonical(dataset)]


def n_classes(dataset: str) -> int:
    """Number of classes C (global ids 1..C): pascal 20, coco 80, camvid 11, msrc 23 (synthetic 20)."""
    return len(_NAMES[_canonical(dataset)])


def n_folds(dataset: str) -> int:
    """Number of class folds: pascal 4, coco 4, camvid 2, msrc 3 (synthetic 4)."""
    return _N_FOLDS[_canonical(dataset)]


def held_out_classes(dataset: str, fold: int) -> list[int]:
    """Sorted global ids held out for testing in ``fold`` (see the module docstring for the rule)."""
    name = _canonical(dataset)
    if not isinstance(fold, int) or not 0 <= fold < _N_FOLDS[name]:
        raise ValueError(f"fold {fold!r} out of range for {name}: expected 0..{_N_FOLDS[name] - 1}")
    if name == "camvid":
        # fold 0 -> odd ids 1, 3, .., 11; fold 1 -> even ids 2, 4, .., 10
        return list(range(1 + fold, 12, 2))
    if name == "msrc":
        return sorted(_MSRC_ID[c] for c in MSRC_FOLDS[fold])
    per_fold = n_classes(name) // _N_FOLDS[name]  # 5 for PASCAL, 20 for COCO
    return list(range(per_fold * fold + 1, per_fold * (fold + 1) + 1))


def fold_classes(dataset: str, fold: int, train: bool, stuff_as_training: bool = False) -> list[int]:
    """Global class ids of a fold: the training classes (``train=True``) or the test classes.

    PASCAL-5i: test = {5i+1..5i+5}, train = the other 15. COCO-20i (PANet): test = {20i+1..20i+20},
    train = the other 60. CamVid: fold 0 test = odd ids, train = even ids; fold 1 swapped.
    MSRC-5i: test = the fold's 5 objects, train = the other 10 objects (+ ``MSRC_STUFF`` with
    ``stuff_as_training``, MSRC only). Returns a sorted list of ints.
    """
    held_out = held_out_classes(dataset, fold)
    name = _canonical(dataset)
    if stuff_as_training and name != "msrc":
        raise ValueError(f"stuff_as_training is defined for msrc only, not {dataset!r}")
    if not train:
        return held_out
    if name == "msrc":
        objects = [_MSRC_ID[c] for fold_names in MSRC_FOLDS for c in fold_names]
        extra = [_MSRC_ID[c] for c in MSRC_STUFF] if stuff_as_training else []
        return sorted(c for c in objects + extra if c not in held_out)
    return [c for c in range(1, n_classes(dataset) + 1) if c not in held_out]
