"""The book files of the built site: an EPUB that holds together and a PDF of the whole course.

The EPUB is checked the way an e-book reader opens it: the ``mimetype`` entry
first and uncompressed, ``META-INF/container.xml`` pointing at the package
document, every file of the manifest present, every XHTML page well-formed
XML, and every image and page that a page refers to inside the book. The PDF
must have more than a hundred pages with the figures embedded as images.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from urllib.parse import unquote, urlparse

import pytest

from tests.site.conftest import HTML

BOOK = HTML / "book"
EPUB = BOOK / "tensors-to-transformers.epub"
PDF = BOOK / "tensors-to-transformers.pdf"
NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "x": "http://www.w3.org/1999/xhtml",
}


@pytest.fixture(scope="module")
def epub() -> zipfile.ZipFile:
    if not EPUB.is_file():
        raise FileNotFoundError(f"no {EPUB}: run `nox -s book` after `nox -s docs`")
    with zipfile.ZipFile(EPUB) as book:
        yield book


def _package(book: zipfile.ZipFile) -> tuple[str, ET.Element]:
    container = ET.fromstring(book.read("META-INF/container.xml"))
    path = container.find(".//c:rootfile", NS).get("full-path")
    return path, ET.fromstring(book.read(path))


def test_epub_opens_as_an_epub(epub):
    first = epub.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert epub.read("mimetype") == b"application/epub+zip"
    assert epub.testzip() is None, "a corrupt entry in the EPUB"
    path, package = _package(epub)
    titles = [t.text for t in package.iter("{http://purl.org/dc/elements/1.1/}title")]
    assert titles == ["Tensors to Transformers"], titles


def test_epub_manifest_files_exist_and_pages_are_well_formed(epub):
    path, package = _package(epub)
    base = posixpath.dirname(path)
    names = set(epub.namelist())
    items = package.findall(".//opf:manifest/opf:item", NS)
    missing = [i.get("href") for i in items if posixpath.join(base, i.get("href")) not in names]
    assert not missing, f"manifest entries missing from the EPUB: {missing[:10]}"
    pages = [i for i in items if i.get("media-type") == "application/xhtml+xml"]
    assert len(pages) > 60, f"only {len(pages)} pages in the EPUB"
    images = {
        posixpath.basename(i.get("href"))
        for i in items
        if i.get("media-type", "").startswith("image/")
    }
    figures = {  # the images the HTML pages show
        name
        for page in HTML.rglob("*.html")
        for name in re.findall(r'src="[^"]*_images/([^"/]+)"', page.read_text(errors="replace"))
    }
    assert figures <= images, (
        f"figures of the site missing from the EPUB: {sorted(figures - images)[:10]}"
    )
    broken = []
    for item in pages:
        name = posixpath.join(base, item.get("href"))
        root = ET.fromstring(epub.read(name))  # raises on malformed XML
        for element in root.iter():
            ref = element.get("src") or element.get("href")
            if not ref or urlparse(ref).scheme or ref.startswith("#"):
                continue
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(name), unquote(urlparse(ref).path))
            )
            if target not in names:
                broken.append(f"{item.get('href')} -> {ref}")
    assert not broken, f"references to files not in the EPUB: {broken[:10]}"


def test_epub_has_the_executed_outputs(epub):
    attention = epub.read("transformers/attention.xhtml").decode()
    assert attention.count("cell_output") >= 3, "the attention page lost its executed outputs"
    assert "<img" in attention, "the attention page lost its figures"
    gallery = [n for n in epub.namelist() if n.startswith("auto_examples/") and "plot_" in n]
    assert len(gallery) >= 25, f"only {len(gallery)} gallery examples in the EPUB"


def test_pdf_has_the_whole_course_with_figures():
    if not PDF.is_file():
        raise FileNotFoundError(f"no {PDF}: run `nox -s book` after `nox -s docs`")
    data = PDF.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages > 100, f"only {pages} pages"
    images = len(re.findall(rb"/Subtype\s*/Image", data))
    assert images > 100, f"only {images} images embedded"
