"""Test documents that open: capture parses every file and refuses a broken one."""


def minimal_pdf(filler: bytes = b"") -> bytes:
    """A one-page PDF; ``filler`` (kept in a comment line) varies its bytes and size, for
    tests that need several distinct digests or a file of some size."""
    comment = b"%" + filler.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" if filler else b""
    return (b"%PDF-1.4\n" + comment + b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
