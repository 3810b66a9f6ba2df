"""Test documents that open: capture parses every file and refuses a broken one, and the 四性
usability check reads PDFs the way a reader does (cross-reference table included)."""

import io


def minimal_pdf(filler: bytes = b"") -> bytes:
    """A valid one-page PDF 1.7 with its xref table; ``filler`` (kept in a comment line)
    varies its bytes and size, for tests that need several distinct digests or some bulk."""
    out = b"%PDF-1.7\n"
    if filler:
        out += b"%" + filler.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"
    offsets = []
    for n, body in enumerate((b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
                              b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"), start=1):
        offsets.append(len(out))
        out += b"%d 0 obj" % n + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref


def jpeg(size=(8, 8), colour=(200, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def page_scan() -> bytes:
    """A scanned page as PNG: white A4-ish portrait with one black bar (a headline), so a
    watermark or a crop shows against it."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(img).rectangle((60, 60, 540, 140), fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def docx(text: str = "正文") -> bytes:
    from docx import Document

    buf = io.BytesIO()
    doc = Document()
    doc.add_paragraph(text)
    doc.save(buf)
    return buf.getvalue()
