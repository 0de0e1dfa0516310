"""Files that must survive a crash, and the random state a resumed run needs.

Checkpoints and results are written atomically: to a temporary file in the same
folder, flushed to disk, then renamed over the old one (``os.replace`` is atomic
on POSIX and Windows), so a reader sees either the old file or the new one,
never half of one. Everything stored is tensors, numbers, strings, lists and
dicts, so ``torch.load(path, weights_only=True)`` reads it back (no pickled code).
"""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch


class WriteError(ValueError):
    """A file could not be written (disk full, no permission, a folder in the way): bad input for
    the command lines (:func:`panet_min.runsetup.run_command` prints it as one line), the path and
    the fix in the message, the OSError as ``__cause__``."""


def write_error(path, error: OSError) -> WriteError:
    """The :class:`WriteError` for ``error`` raised while writing ``path``."""
    import errno

    reason = error.strerror or str(error) or type(error).__name__
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = "free some space on that disk (or write elsewhere, e.g. another --out), then run the command again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a folder you may write to (e.g. another --out), or fix its permissions"
    else:
        fix = "check that the folder exists, is a folder and is writable (or choose another --out)"
    return WriteError(f"cannot write {path}: {reason}; {fix}")


def atomic_write_bytes(path, write) -> Path:
    """Write a file atomically: ``write(f)`` fills a temporary file in the same folder, which is
    flushed, fsynced and renamed over ``path``. On any error the temporary file is removed and
    the old ``path`` (if any) is left untouched; an OSError (disk full, no permission) becomes a
    :class:`WriteError` naming ``path`` and the fix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is unusable: nothing was left in it
            pass
        if isinstance(e, OSError):
            raise write_error(path, e) from e
        raise
    try:  # make the rename itself durable (not possible on every OS)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def atomic_save(obj, path) -> Path:
    """``torch.save(obj, path)``, atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, lambda f: torch.save(obj, f))


def atomic_write_json(obj, path) -> Path:
    text = json.dumps(obj, indent=1, allow_nan=False) + "\n"
    return atomic_write_bytes(path, lambda f: f.write(text.encode()))


def read_json(path, what: str = "JSON file") -> dict:
    """A JSON object from ``path``; a clear ValueError naming the file when it is missing, cut
    short or not an object."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read {what} {path} ({e}): the file is damaged or cut short; "
                         "restore it or start the run again") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} {path} holds a {type(value).__name__}, not a JSON object")
    return value


def portable_path(path) -> str | None:
    """A path as it may be written into a committed file: relative to the working folder when
    inside it, ``~/...`` under the home folder; else ``.../<name>`` (the machine's folders stay
    out of committed results)."""
    if path is None:
        return None
    p = Path(path).expanduser().resolve()
    bases = [(Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")]
    for base, prefix in bases:
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return (prefix + str(rel)) if prefix else (str(rel) or ".")
    return f".../{p.name}"


def portable_text(text: str) -> str:
    """``text`` with the working folder and the home folder written as ``.`` and ``~`` (for
    descriptions that quote a path)."""
    for base, label in ((Path.cwd(), "."), (Path.home(), "~")):
        if not base or len(Path(base).resolve().parts) < 2:  # never rewrite "/" itself
            continue
        for form in {str(Path(base).resolve()), str(base)}:
            text = re.sub(re.escape(form) + r"(?=/|\s|$|[),;:])", lambda _: label, text)
    return text


# ---------------------------------------------------------------------------------------------
# Random number generators (stored as tensors and plain lists, so torch.load(weights_only=True)
# reads them back)

def rng_state() -> dict:
    """The torch (CPU and CUDA), numpy and python global RNG states."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
            "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "python": {"version": int(version), "state": list(internal), "gauss_next": gauss_next}}


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (the original's ``set_seed``)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)




# ---------------------------------------------------------------------------------------------
# Checkpoints

CHECKPOINT_FORMAT = "panet_min.checkpoint/1"


def scheduler_state(scheduler) -> dict:
    """``scheduler.state_dict()`` with MultiStepLR's ``Counter`` stored as a plain dict."""
    state = dict(scheduler.state_dict())
    if "milestones" in state:
        state["milestones"] = {int(k): int(v) for k, v in state["milestones"].items()}
    return state


def load_scheduler_state(scheduler, state: dict) -> None:
    from collections import Counter

    state = dict(state)
    if "milestones" in state:
        state["milestones"] = Counter({int(k): int(v) for k, v in state["milestones"].items()})
    scheduler.load_state_dict(state)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint with ``weights_only=True`` (no pickled code runs); a clear ValueError when
    the file is missing, damaged, or holds something other than a dict of tensors (a bare tensor,
    a list)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path} (train one with `python -m panet_min.train "
                         "--out RUN_DIR`, which writes RUN_DIR/checkpoint.pt)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for a truncated or foreign file
        # torch's own message suggests weights_only=False, which would run the file's code: not repeated
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        first = first.split(". ")[0].rstrip(".")  # torch's first sentence; its advice is not for this file
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            first = "it holds Python objects other than tensors, numbers and strings"
        raise ValueError(f"cannot read checkpoint {path}: {first}. The file is damaged, cut short, or not a "
                         "panet_min checkpoint: train again, or give the checkpoint.pt of a finished run") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint (a dict with the model's "
                         "state): give the checkpoint.pt that panet_min.train writes")
    return ckpt
