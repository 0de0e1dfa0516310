"""download(): resume, verify, never a half file under the final name; safe_extract(): nothing escapes."""
import hashlib
import io
import tarfile
import zipfile

import pytest

from panet_min.prepare.download import (download, file_digest, mark_done, safe_extract, step_done,
                                     urllib_fetch)

PAYLOAD = bytes(range(256)) * 50


def md5(b):
    return hashlib.md5(b).hexdigest()


def test_file_digest(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(PAYLOAD)
    assert file_digest(f) == md5(PAYLOAD)
    assert file_digest(f, "sha256") == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_file_url_verifies_and_skips_when_present(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = download(src.as_uri(), tmp_path / "dl" / "x.bin", md5(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "dl" / "x.bin.part").exists()

    def must_not_fetch(url, part, offset):
        raise AssertionError("fetched although the verified file is there")

    assert download(src.as_uri(), dest, md5(PAYLOAD), fetch=must_not_fetch) == dest
    dest.write_bytes(b"damaged later")  # a damaged file under the final name is fetched again
    assert download(src.as_uri(), dest, md5(PAYLOAD)).read_bytes() == PAYLOAD


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    with pytest.raises(ValueError, match=r"checksum mismatch for x.bin .* expected 0+"):
        download(src.as_uri(), tmp_path / "dl" / "x.bin", "0" * 32)
    assert list((tmp_path / "dl").iterdir()) == []


def test_resume_from_part_and_restart_when_range_is_ignored(tmp_path):
    seen = []

    def fetch(url, part, offset):
        seen.append(offset)
        with open(part, "ab") as f:
            f.write(PAYLOAD[offset:])

    dest = tmp_path / "x.bin"
    (tmp_path / "x.bin.part").write_bytes(PAYLOAD[:1000])
    download("http://example.invalid/x.bin", dest, md5(PAYLOAD), fetch=fetch)
    assert seen == [1000] and dest.read_bytes() == PAYLOAD
    # file:// ignores Range: urllib_fetch must start over instead of appending
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    part = tmp_path / "y.part"
    part.write_bytes(PAYLOAD[:10])
    urllib_fetch(src.as_uri(), part, 10, progress=False)
    assert part.read_bytes() == PAYLOAD


def tar_with(tmp_path, members, name="a.tgz"):
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_safe_extract_good_archive(tmp_path):
    arc = tar_with(tmp_path, [file_member("top/a.txt", b"A"), file_member("top/sub/b.txt", b"B"),
                              link_member("top/ln", "a.txt")])
    out = safe_extract(arc, tmp_path / "out")
    assert (out / "top" / "a.txt").read_bytes() == b"A" and (out / "top" / "sub" / "b.txt").read_bytes() == b"B"
    assert not (tmp_path / "out.partial").exists()
    zpath = tmp_path / "z.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("d/c.txt", "C")
    assert (safe_extract(zpath, tmp_path / "zout") / "d" / "c.txt").read_text() == "C"


@pytest.mark.parametrize("member", [
    file_member("../evil.txt"), file_member("top/../../evil.txt"), file_member("/var/evil_abs.txt"),
    link_member("top/ln", "../../evil.txt"), link_member("top/ln", "/etc/passwd"),
    link_member("top/hl", "../evil.txt", tarfile.LNKTYPE),
])
def test_safe_extract_refuses_escaping_members(tmp_path, member):
    arc = tar_with(tmp_path, [file_member("top/ok.txt"), member])
    with pytest.raises(ValueError, match="refusing archive member"):
        safe_extract(arc, tmp_path / "deep" / "out")
    assert not list(tmp_path.rglob("ok.txt")) and not list(tmp_path.rglob("evil*"))
    assert not (tmp_path / "deep" / "out").exists() and not (tmp_path / "deep" / "out.partial").exists()


def test_safe_extract_refuses_escaping_zip_member(tmp_path):
    zpath = tmp_path / "z.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../evil.txt", "E")
    with pytest.raises(ValueError, match="refusing archive member"):
        safe_extract(zpath, tmp_path / "out")
    assert not list(tmp_path.rglob("evil.txt"))


def test_safe_extract_corrupted_archives(tmp_path):
    arc = tar_with(tmp_path, [file_member("a.bin", PAYLOAD * 4)])
    arc.write_bytes(arc.read_bytes()[:-40])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive at all" * 40)
    with pytest.raises(ValueError, match="corrupted or truncated"):
        safe_extract(junk, tmp_path / "out")
    with pytest.raises(ValueError, match="archive not found"):
        safe_extract(tmp_path / "missing.tar", tmp_path / "out")


def test_step_markers(tmp_path):
    assert not step_done(tmp_path / "state", "x")
    mark_done(tmp_path / "state", "x")
    assert step_done(tmp_path / "state", "x") and not step_done(tmp_path / "state", "y")
