"""Downloads that resume and verify, and archive extraction that cannot escape its folder.

The rules every data script follows:

* A download is written to ``NAME.part`` and renamed to ``NAME`` only after its
  checksum matched, so a file named ``NAME`` is always complete; an interrupted
  download leaves a ``.part`` that the next run resumes (HTTP Range) and then
  verifies. A resumed file that fails the check is fetched once more from zero.
* Extraction refuses any member that would land outside the target folder
  (absolute paths, ``..``, links pointing out, devices), via tarfile's ``data``
  filter where Python has it plus an explicit check; it extracts into a
  staging folder that replaces the target only when complete, so a corrupted
  archive leaves nothing that looks finished.
* Every step of a script writes a marker (``step_done``) when it has finished;
  re-running skips marked steps.
* Every URL goes through :func:`mirrored`: with ``PANET_MIN_MIRROR=DIR`` set, a download of
  ``https://HOST/PATH`` (or ``http://``) reads the local file ``DIR/HOST/PATH`` instead, through
  the same code (resume, checksum, rename). Tests, CI and machines behind a proxy use it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlsplit

Fetch = Callable[[str, Path, int], None]
CHUNK = 1 << 20


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest of a file (``algorithm``: any hashlib name, e.g. "md5", "sha256")."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def mirrored(url: str) -> str:
    """``url``, or its local copy ``file://$PANET_MIN_MIRROR/HOST/PATH`` when the variable is set.

    Only http(s) URLs are mirrored. With the variable set and the file missing -> ValueError naming
    the file the mirror must hold (never a silent fall-back to the internet).
    """
    mirror = os.environ.get("PANET_MIN_MIRROR")
    parts = urlsplit(url)
    if not mirror or parts.scheme not in ("http", "https"):
        return url
    local = Path(mirror).expanduser().resolve() / parts.netloc / parts.path.lstrip("/")
    if not local.is_file():
        raise ValueError(f"PANET_MIN_MIRROR={mirror} is set but holds no copy of {url}: expected the "
                         f"file {local}. Put the file there, or unset PANET_MIN_MIRROR to download it.")
    return local.as_uri()


def urllib_fetch(url: str, part: Path, offset: int, progress: bool = True) -> None:
    """Append the bytes of ``url`` from ``offset`` on to ``part`` (HTTP Range); restarts from
    zero when the server ignores the range (status other than 206, e.g. file:// URLs).

    A transfer that ends before the server's Content-Length (a dropped connection) -> ValueError
    naming the file; the ``.part`` is kept, so running the command again resumes it. Without a
    checksum this is the only check that the file is whole.
    """
    from http.client import IncompleteRead
    from urllib.request import Request, urlopen

    headers = {"User-Agent": "panet_min"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with urlopen(Request(mirrored(url), headers=headers), timeout=60) as r:
        resumed = offset > 0 and getattr(r, "status", None) == 206
        length = r.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        start = offset if resumed else 0
        total = None if length is None else length + start
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=Path(part.name).stem)
        received = 0
        with open(part, "ab" if resumed else "wb") as f:
            try:
                for block in iter(lambda: r.read(CHUNK), b""):
                    f.write(block)
                    received += len(block)
                    if bar is not None:
                        bar.update(len(block))
            except IncompleteRead as e:  # http.client's word for a connection closed early
                f.write(e.partial or b"")  # kept: the next run resumes after it
                received += len(e.partial or b"")
            finally:
                if bar is not None:
                    bar.close()
    if length is not None and received < length:
        raise ValueError(f"download of {part.name.removesuffix('.part')} from {url} stopped after "
                         f"{start + received:,} of {total:,} bytes (the connection was cut): run the same "
                         f"command again to resume it (the partial file {part} is kept)")


def download(url: str, dest: str | Path, md5: str | None = None, fetch: Fetch | None = None,
             sha256: str | None = None) -> Path:
    """Fetch ``url`` to ``dest`` via ``dest.part``, verify its md5 (or sha256, which may be a
    prefix of at least 8 hex digits, as torch.hub file names carry), rename; return ``dest``.

    Skips when ``dest`` exists (it was verified before its rename) - unless its digest
    no longer matches, then it is fetched again. ``fetch(url, part, offset)``
    appends the bytes from ``offset`` to ``part`` (default: urllib with HTTP Range);
    tests inject their own. A checksum mismatch removes the ``.part`` and raises
    ValueError naming the file, both digests and the URL.
    """
    dest = Path(dest)
    fetch = fetch or urllib_fetch
    if sha256 is not None and len(sha256) < 8:
        raise ValueError(f"sha256 prefix {sha256!r} is too short to identify {dest.name}")
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)

    def matches(path: Path) -> tuple[bool, str | None]:
        if expected is None:
            return True, None
        got = file_digest(path, algorithm)
        return got.startswith(expected) if algorithm == "sha256" else got == expected, got

    if dest.is_file():
        if matches(dest)[0]:
            return dest
        dest.unlink()  # damaged since it was verified: fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(2):
        offset = part.stat().st_size if part.is_file() else 0
        fetch(url, part, offset)
        if not part.is_file():
            raise ValueError(f"downloading {url} produced no file {part}")
        ok, got = matches(part)
        if ok:
            part.replace(dest)
            return dest
        part.unlink()
        if offset == 0 or attempt == 1:
            break
    raise ValueError(f"checksum mismatch for {dest.name} from {url}: {algorithm} {got}, expected {expected}. "
                     "The download is corrupted or the file changed upstream; the partial file "
                     "was removed, run the command again.")


def _check_member(name: str, dest: Path) -> None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or ":" in p.parts[0]:
        raise ValueError(f"refusing archive member {name!r}: it would be written outside {dest}")
    target = (dest / p).resolve()
    if target != dest.resolve() and dest.resolve() not in target.parents:
        raise ValueError(f"refusing archive member {name!r}: it would be written outside {dest}")


def _check_tar(tf: tarfile.TarFile, dest: Path, archive: Path) -> None:
    members = tf.getmembers()
    # tarfile stops quietly at a truncated header: a complete archive ends with two zero blocks
    tf.fileobj.seek(tf.offset)
    end = tf.fileobj.read(2 * tarfile.BLOCKSIZE)
    if len(end) < 2 * tarfile.BLOCKSIZE or end.strip(b"\0"):
        raise ValueError(f"cannot extract {archive}: the archive is corrupted or truncated "
                         "(no end-of-archive marker). Delete it and run the command again.")
    for m in members:
        _check_member(m.name, dest)
        if m.issym() or m.islnk():
            link = PurePosixPath(m.name).parent / m.linkname if m.issym() else PurePosixPath(m.linkname)
            _check_member(str(link), dest)
        if m.isdev():
            raise ValueError(f"refusing archive member {m.name!r}: device files are not allowed")


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a .tar/.tgz/.tar.gz/.zip into ``dest`` (created); return ``dest``.

    Every member is checked first; one that would land outside ``dest`` raises
    ValueError and nothing is extracted. A truncated or corrupted archive raises
    ValueError naming it. Extraction goes to ``dest.partial`` and is renamed to
    ``dest`` only when complete (an older ``dest.partial`` is discarded).
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ValueError(f"archive not found: {archive}")
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(name, staging)
                bad = zf.testzip()
                if bad is not None:
                    raise ValueError(f"corrupted member {bad} in {archive}")
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                _check_tar(tf, staging, archive)
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(staging, filter="data")
                else:  # Python without the filter: the explicit check above is what protects
                    tf.extractall(staging)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError(f"cannot extract {archive}: the archive is corrupted or truncated ({e}). "
                         f"Delete it and run the command again to download it anew.") from e
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    staging.replace(dest)
    return dest


def step_done(state_dir: str | Path, step: str) -> bool:
    """Has ``step`` finished before (its marker ``state_dir/step.done`` exists)?"""
    return (Path(state_dir) / f"{step}.done").is_file()


def mark_done(state_dir: str | Path, step: str, note: str = "") -> None:
    """Record that ``step`` finished (written last, after everything the step produces)."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    (Path(state_dir) / f"{step}.done").write_text(note + "\n")


def run_steps(state_dir: str | Path, steps, log=print) -> None:
    """Run ``steps`` (a list of (name, callable)) in order, skipping those marked done before.

    Each step is marked done only after it returned, so an interrupted preparation resumes at
    the step that was cut short and never takes a half-made output for a finished one.
    """
    for name, run in steps:
        if step_done(state_dir, name):
            log(f"[skip] {name}: done before")
            continue
        log(f"[run ] {name}")
        run()
        mark_done(state_dir, name)
