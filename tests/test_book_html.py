"""The rendered book, checked as a reader would see it.

This test builds nothing: it reads ``_build/html`` (``make book`` / ``make test`` build it first with
``jupyter-book build .``) and checks that

- every ``_toc.yml`` entry has a page;
- every chapter page shows its figures (``<img>`` whose file or data URI is a real PNG), at least as
  many as the stored notebook has image outputs;
- no page and no stored notebook carries an error output or a traceback;
- each chapter's "launch in Colab" link opens that chapter's notebook on the repository named in
  ``_config.yml``;
- in headless Chromium, MathJax has rendered the maths of the chapter pages (``mjx-container``
  elements, no ``mjx-merror``): this needs MathJax served from ``_build/html`` itself, as the build
  machines have no internet.

Chromium is Debian's ``chromium`` package (``make test`` installs it when it can). Without it the
MathJax test fails, naming the install command.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
BUILD_HINT = "build it first: `jupyter-book build .` in the repository root (or `make book`)"
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG
IMAGE_MIMES = ("image/png", "image/jpeg")


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def chapter_notebooks() -> list[str]:
    """The toc entries that are notebooks (book/NN_name), in toc order."""
    return [f for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def page(entry: str) -> Path:
    if not HTML.is_dir():
        pytest.fail(f"{HTML.relative_to(ROOT)} does not exist; {BUILD_HINT}")
    return HTML / f"{entry}.html"


class _Links(HTMLParser):
    """Collects <img src> and <a href> of a page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def is_figure(src: str, page_path: Path) -> bool:
    """A data URI holding a PNG/JPEG, or a relative path to a real PNG/JPEG file beside the page
    (the theme's own images under _static/, such as the Colab logo, do not count)."""
    if src.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")):
        return len(src) > 200
    if "://" in src or src.startswith("data:") or "_static/" in src:
        return False
    target = (page_path.parent / src.split("#")[0].split("?")[0]).resolve()
    return target.is_file() and target.read_bytes()[:8].startswith(IMAGE_MAGIC)


def stored_image_outputs(entry: str) -> int:
    nb = json.loads((ROOT / f"{entry}.ipynb").read_text(encoding="utf-8"))
    return sum(any(m in out.get("data", {}) for m in IMAGE_MIMES) for cell in nb["cells"]
               if cell["cell_type"] == "code" for out in cell.get("outputs", []))


@pytest.mark.parametrize("entry", toc_files())
def test_every_toc_entry_has_a_page(entry):
    path = page(entry)
    assert path.is_file(), f"no page {path.relative_to(ROOT)} for the _toc.yml entry {entry!r}; {BUILD_HINT}"
    assert (HTML / "index.html").is_file(), "no _build/html/index.html"


@pytest.mark.parametrize("entry", chapter_notebooks())
def test_chapter_page_shows_its_figures(entry):
    path = page(entry)
    figures = [src for src in parse(path).images if is_figure(src, path)]
    stored = stored_image_outputs(entry)
    numbered = Path(entry).name[:2].isdigit()  # a chapter; appendices may be text and code only
    assert stored >= 1 or not numbered, (f"{entry}.ipynb has no stored figure: execute it "
                                         f"(`python tools/execute_book.py {entry}.ipynb`)")
    assert len(figures) >= stored, (f"{path.relative_to(ROOT)} shows {len(figures)} figures but the notebook "
                                    f"stores {stored}; rebuild the HTML ({BUILD_HINT})")


@pytest.mark.parametrize("entry", chapter_notebooks())
def test_no_error_output(entry):
    nb = json.loads((ROOT / f"{entry}.ipynb").read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{entry}.ipynb cell {i} stores an error: {out.get('ename')}"
    text = page(entry).read_text(encoding="utf-8")
    for marker in ("Traceback (most recent call last)", 'class="output traceback', "PapermillExecutionError"):
        assert marker not in text, f"{entry}.html shows an error output ({marker!r})"


def repository() -> tuple[str, str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    url = repo["url"].rstrip("/")
    assert url.startswith("https://github.com/"), f"_config.yml repository url {url!r} is not a GitHub URL"
    return url.removeprefix("https://github.com/"), repo.get("branch", "main"), repo.get("path_to_book", "") or ""


@pytest.mark.parametrize("entry", chapter_notebooks())
def test_colab_link_opens_this_chapter(entry):
    slug, branch, book_path = repository()
    notebook = "/".join(p for p in (book_path.strip("/"), f"{entry}.ipynb") if p)
    expected = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook}"
    colab = [href for href in parse(page(entry)).links if "colab.research.google.com" in href]
    assert colab, f"{entry}.html has no Colab launch link (launch_buttons.colab_url in _config.yml)"
    assert expected in colab, f"{entry}.html: Colab link(s) {colab} do not point at {expected}"


# ---- MathJax, in a real browser -----------------------------------------------------------------

def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium not found: install it with `apt-get install -y chromium` "
                "(`make test` does so on Debian when run as root)")


def chromium_args(user_dir: str) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--allow-file-access-from-files", f"--user-data-dir={user_dir}", "--virtual-time-budget=20000"]


def rendered_dom(path: Path) -> str:
    """The page's DOM after its scripts ran (``--dump-dom``)."""
    with tempfile.TemporaryDirectory() as user_dir:
        run = subprocess.run([chromium(), *chromium_args(user_dir), "--dump-dom", path.as_uri()],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"chromium failed on {path.name}: {run.stderr[-2000:]}"
    return run.stdout


def math_pages() -> list[str]:
    """Chapters whose markdown holds display or inline maths."""
    out = []
    for entry in chapter_notebooks():
        nb = json.loads((ROOT / f"{entry}.ipynb").read_text(encoding="utf-8"))
        if any(c["cell_type"] == "markdown" and "$" in "".join(c["source"]) for c in nb["cells"]):
            out.append(entry)
    return out


@pytest.mark.parametrize("entry", math_pages()[:3])
def test_mathjax_renders_the_maths(entry):
    path = page(entry)
    html = path.read_text(encoding="utf-8")
    n_math = len(re.findall(r'class="math notranslate nohighlight"', html))
    assert n_math > 0, f"{entry}.html has no maths for MathJax (dollarmath enabled in _config.yml?)"
    script = re.search(r'<script[^>]+src="([^"]*(?:mathjax|MathJax|tex-[a-z-]+\.js)[^"]*)"', html)
    assert script, f"{entry}.html loads no MathJax script"
    assert "://" not in script.group(1), (
        f"{entry}.html loads MathJax from {script.group(1)}, which an offline reader (and CI) cannot reach: "
        "serve it from _static (sphinx-mathjax-offline)")
    dom = rendered_dom(path)
    rendered = dom.count("<mjx-container")
    assert rendered >= n_math, f"{entry}.html: MathJax rendered {rendered} of {n_math} formulas"
    assert "<mjx-merror" not in dom, f"{entry}.html: MathJax reports a TeX error"


def markdown_table_outputs(entry: str) -> int:
    nb = json.loads((ROOT / f"{entry}.ipynb").read_text(encoding="utf-8"))
    return sum("|---" in "".join(out.get("data", {}).get("text/markdown", "")) for cell in nb["cells"]
               if cell["cell_type"] == "code" for out in cell.get("outputs", []))


@pytest.mark.parametrize("entry", chapter_notebooks())
def test_markdown_table_outputs_render_as_tables(entry):
    # myst-nb renders Markdown outputs as strict CommonMark unless told otherwise: tables would
    # come out as a paragraph of pipes (nb_render_markdown_format in _config.yml).
    tables = page(entry).read_text(encoding="utf-8").count("<table")
    assert tables >= markdown_table_outputs(entry), (
        f"{entry}.html has {tables} <table> elements but its notebook stores {markdown_table_outputs(entry)} "
        "Markdown tables; set sphinx.config.nb_render_markdown_format: myst in _config.yml")


# ---- The page as a reader meets it, at 1280 px --------------------------------------------------

# Run inside the page after it rendered: what a reader would see clipped, too small or out of place.
_LAYOUT_PROBE = """
<script>
window.addEventListener('load', () => setTimeout(() => {
  const out = {overflow: [], small: [], nbval: 0, rawmath: [], column: 0};
  const main = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  out.column = Math.round(main.getBoundingClientRect().width);
  const boxes = main.querySelectorAll('div.cell_output pre, div.output pre, div.cell_input pre, table, div.math, mjx-container[display="true"]');
  for (const el of boxes) {
    const visible = el.offsetParent !== null && (el.innerText || '').trim() !== '';
    if (visible && el.scrollWidth > el.clientWidth + 1) {
      const lines = (el.innerText || '').split('\\n');
      const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
      out.overflow.push((el.tagName + ' ' + el.scrollWidth + '>' + el.clientWidth + ': ' + longest).slice(0, 120));
    }
  }
  for (const img of main.querySelectorAll('div.cell_output img')) {
    const w = img.getBoundingClientRect().width;
    if (w > 0 && w < 600) out.small.push(Math.round(w) + 'px ' + (img.alt || img.src.slice(-30)));
  }
  out.nbval = (document.body.innerText.match(/NBVAL/g) || []).length;
  const titles = [document.title].concat(Array.from(document.querySelectorAll(
      'nav a, .bd-sidebar a, h1, .toctree-wrapper a')).map(a => a.innerText));
  for (const t of titles) { if (/\\\\\\(|\\$/.test(t)) out.rawmath.push(t.slice(0, 80)); }
  document.body.setAttribute('data-layout-report', JSON.stringify(out));
}, 1500));
</script>
"""


def layout_report(entry: str) -> dict:
    """The probe's findings for a chapter page in headless Chromium with a 1280 x 900 window."""
    import html as html_lib

    path = page(entry)
    probe = path.with_name(f"__layout_probe_{path.name}")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", _LAYOUT_PROBE + "</body>"),
                     encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as user_dir:
            run = subprocess.run([chromium(), *chromium_args(user_dir), "--window-size=1280,900",
                                  "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink()
    assert run.returncode == 0, f"chromium failed on {path.name}: {run.stderr[-2000:]}"
    found = re.search(r'data-layout-report="([^"]*)"', run.stdout)
    assert found, f"{entry}.html: the layout probe did not run (page scripts failed?)"
    return json.loads(html_lib.unescape(found.group(1)))


@pytest.mark.parametrize("entry", chapter_notebooks())
def test_the_page_is_clean_legible_and_unclipped(entry):
    report = layout_report(entry)
    assert report["nbval"] == 0, f"{entry}.html shows nbval machinery (NBVAL) to the reader"
    assert not report["rawmath"], f"{entry}.html: raw maths in a title or the navigation: {report['rawmath']}"
    assert not report["overflow"], (f"{entry}.html: {len(report['overflow'])} blocks wider than the "
                                    f"{report['column']} px column at 1280 px: {report['overflow'][:5]}")
    assert not report["small"], f"{entry}.html: figures narrower than 600 px as rendered: {report['small'][:5]}"
