"""Text, page count and thumbnail of a stored file, computed once per content digest.

``analyse`` parses a file in a child process (forked by the multiprocessing forkserver) with a
wall-clock limit
(``QUNLI_EXTRACT_SECONDS``, default 30 s), an address-space limit and a CPU-time limit, so a
hostile or broken file (a PDF that loops, an XML bomb inside an OFD, a decompression-bomb
image) can neither hang nor crash the web process: the child is killed and the file refused
with a Chinese message. ``ensure_content`` stores the outcome as a ``FileContent`` row keyed by
SM3 (and the thumbnail under ``thumbs/<sm3[:2]>/<sm3>.png``); a digest already analysed is
never parsed again, and the search index reads the stored text (``records.search``).

Formats: PDF (pdfium text layer + first-page render), DOCX (python-docx paragraphs and
tables), OFD (a zip of XML: the ``TextCode`` of every page, in page order), TXT (UTF-8 or
GB18030), JPEG/PNG/TIFF (Pillow; TIFF frames count as pages). Audio and video are not parsed."""

from __future__ import annotations

import io
import multiprocessing
import os
import posixpath
import tempfile
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from django.conf import settings

TEXT_LIMIT = 2_000_000  # characters of text kept per file
THUMB_SIZE = (240, 320)
MAX_XML_BYTES = 64 * 1024 * 1024  # one OFD part, unpacked
MAX_PIXELS = 200_000_000
SCANNED_KINDS = {"pdf", "ofd", "jpg", "jpeg", "png", "tif", "tiff"}  # pages here count as digitized
IMAGE_KINDS = {"jpg", "jpeg", "png", "tif", "tiff"}
PARSED_KINDS = {"pdf", "docx", "ofd", "txt"} | IMAGE_KINDS


class BrokenFile(Exception):
    """The file cannot be read; the message (Chinese) says why."""


@dataclass
class Analysis:
    status: str  # text | empty | none
    text: str = ""
    pages: int = 0
    thumb: bytes = b""
    errors: list = field(default_factory=list)


# --- parsers (run in the child) ------------------------------------------------------------

def _thumb_png(img) -> bytes:
    """A PNG thumbnail, or b"" when this image mode cannot be shown (the file is still fine)."""
    from PIL import Image

    try:
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            img = img.point(lambda v: v / 256).convert("L")
        img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        img.thumbnail(THUMB_SIZE, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        return buf.getvalue()
    except (OSError, ValueError, TypeError):
        return b""


def _pdf(path: str) -> Analysis:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise BrokenFile("PDF 文件设有密码（已加密），无法读取；请提供未加密的文件。") from None
        raise BrokenFile("PDF 文件已损坏或不完整，无法打开。") from None
    try:
        n = len(pdf)
        if n == 0:
            raise BrokenFile("PDF 文件没有任何页面。")
        texts = []
        size = 0
        for i in range(n):
            page = pdf[i]
            tp = page.get_textpage()
            t = tp.get_text_bounded()
            tp.close()
            if i == 0:
                scale = min(THUMB_SIZE[0] / max(page.get_width(), 1), THUMB_SIZE[1] / max(page.get_height(), 1))
                thumb = _thumb_png(page.render(scale=max(scale, 0.05)).to_pil())
            page.close()
            texts.append(t)
            size += len(t)
            if size > TEXT_LIMIT:
                break
        text = "\n".join(texts).replace("\r\n", "\n").strip()[:TEXT_LIMIT]
        return Analysis("text" if text else "empty", text, n, thumb)
    finally:
        pdf.close()


def _docx(path: str) -> Analysis:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = docx.Document(path)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, ET.ParseError):
        raise BrokenFile("DOCX 文件已损坏或不是有效的 Word 文档。") from None
    except Exception:  # lxml raises its own errors for malformed parts
        raise BrokenFile("DOCX 文件已损坏或不是有效的 Word 文档。") from None
    parts = [p.text for p in doc.paragraphs if p.text.strip()]
    for table in doc.tables:
        for row in table.rows:
            parts.append("\t".join(c.text for c in row.cells))
    pages = 0
    try:
        with zipfile.ZipFile(path) as zf:
            if "docProps/app.xml" in zf.namelist():
                root = ET.fromstring(_read_member(zf, "docProps/app.xml"))
                for el in root.iter():
                    if _local(el.tag) == "Pages" and (el.text or "").strip().isdecimal():
                        pages = int(el.text.strip())
    except (zipfile.BadZipFile, ET.ParseError, BrokenFile, KeyError):
        pages = 0
    text = "\n".join(parts).strip()[:TEXT_LIMIT]
    return Analysis("text" if text else "empty", text, pages)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise BrokenFile("OFD/DOCX 文件内部部件解压后体积异常，疑似恶意文件。")
    with zf.open(info) as fh:
        data = fh.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise BrokenFile("OFD/DOCX 文件内部部件解压后体积异常，疑似恶意文件。")
    return data


def _ofd(path: str) -> Analysis:
    """OFD (GB/T 33190): OFD.xml → DocBody/DocRoot → Document.xml → Pages/Page@BaseLoc →
    each page's Content.xml, whose TextObject/TextCode hold the text layer."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise BrokenFile("OFD 文件已损坏（无法解压）。") from None
    try:
        names = set(zf.namelist())
        if "OFD.xml" not in names:
            raise BrokenFile("不是有效的 OFD 文件（缺少 OFD.xml）。")
        root = ET.fromstring(_read_member(zf, "OFD.xml"))
        doc_roots = [el.text.strip() for el in root.iter() if _local(el.tag) == "DocRoot" and el.text]
        if not doc_roots:
            raise BrokenFile("不是有效的 OFD 文件（缺少 DocRoot）。")
        texts, pages = [], 0
        for doc_root in doc_roots:
            doc_path = _resolve("", doc_root)
            if doc_path not in names:
                raise BrokenFile(f"OFD 文件不完整：缺少 {doc_path}。")
            doc = ET.fromstring(_read_member(zf, doc_path))
            base = posixpath.dirname(doc_path)
            for el in doc.iter():
                if _local(el.tag) != "Page":
                    continue
                loc = el.get("BaseLoc")
                if not loc:
                    continue
                pages += 1
                page_path = _resolve(base, loc)
                if page_path not in names:
                    raise BrokenFile(f"OFD 文件不完整：缺少页面 {page_path}。")
                page = ET.fromstring(_read_member(zf, page_path))
                line = []
                for node in page.iter():
                    if _local(node.tag) == "TextCode" and node.text:
                        line.append(node.text)
                texts.append("".join(line))
        text = "\n".join(t for t in texts if t).strip()[:TEXT_LIMIT]
        if pages == 0:
            raise BrokenFile("OFD 文件没有任何页面。")
        return Analysis("text" if text else "empty", text, pages)
    except ET.ParseError:
        raise BrokenFile("OFD 文件中的 XML 已损坏。") from None
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, NotImplementedError):
        raise BrokenFile("OFD 文件已损坏（无法解压）。") from None
    finally:
        zf.close()


def _resolve(base: str, loc: str) -> str:
    loc = loc.strip().replace("\\", "/")
    p = loc.lstrip("/") if loc.startswith("/") else posixpath.join(base, loc)
    return posixpath.normpath(p)


def _txt(path: str) -> Analysis:
    with open(path, "rb") as fh:
        data = fh.read(TEXT_LIMIT * 4)
    if b"\x00" in data[:65536]:
        raise BrokenFile("TXT 文件含有二进制内容，不是纯文本。")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BrokenFile("TXT 文件编码无法识别（应为 UTF-8 或 GB18030）。")
    text = text.strip()[:TEXT_LIMIT]
    return Analysis("text" if text else "empty", text, 0)


def _image(path: str) -> Analysis:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as img:
            frames = getattr(img, "n_frames", 1) or 1
            img.load()
            thumb = _thumb_png(img)
    except Image.DecompressionBombError:
        raise BrokenFile("图像像素数异常巨大，疑似恶意文件，已拒绝。") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise BrokenFile("图像文件已损坏或不完整，无法打开。") from None
    return Analysis("none", "", frames, thumb)


PARSERS = {"pdf": _pdf, "docx": _docx, "ofd": _ofd, "txt": _txt,
           **{k: _image for k in IMAGE_KINDS}}


def analyse_here(path: str, kind: str) -> Analysis:
    """Parse in this process (the child calls this; tests of the parsers may too)."""
    parser = PARSERS.get(kind)
    if parser is None:
        return Analysis("none")
    return parser(path)


# --- isolation -------------------------------------------------------------------------------

def _child(conn, path: str, kind: str, mem_bytes: int, cpu_seconds: int) -> None:
    try:
        import resource

        if mem_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    except (ImportError, ValueError, OSError):
        pass
    try:
        res = analyse_here(path, kind)
        conn.send(("ok", res))
    except BrokenFile as e:
        conn.send(("broken", str(e)))
    except MemoryError:
        conn.send(("broken", "文件解析所需内存超出限制，疑似恶意或损坏文件。"))
    except Exception as e:  # any parser failure on a malformed file
        conn.send(("broken", f"文件已损坏或格式不正确，无法解析（{type(e).__name__}）。"))
    finally:
        conn.close()


_PRELOAD = {"pdf": ("pypdfium2", "PIL.Image"), "docx": ("docx",), "ofd": (), "txt": (),
            **{k: ("PIL.Image", "PIL.TiffImagePlugin", "PIL.PngImagePlugin", "PIL.JpegImagePlugin")
               for k in IMAGE_KINDS}}


def _preload(kind: str) -> None:
    """Import the parser's libraries here, once, so each forked child inherits them instead
    of importing them again (most of a child's start-up time)."""
    import importlib

    for mod in _PRELOAD.get(kind, ()):
        importlib.import_module(mod)


def _context(kind: str):
    """The forkserver (a small single-threaded process that imported only this module and the
    parser libraries: children start fast and never inherit a lock held by another thread of
    the web process); plain fork where it is unavailable."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods and getattr(settings, "QUNLI_EXTRACT_FORKSERVER", True):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["qunli.records.extract", "pypdfium2", "docx", "PIL.Image",
                                    "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "PIL.TiffImagePlugin"])
        return ctx
    _preload(kind)
    return multiprocessing.get_context("fork")


def analyse(path: str, kind: str, name: str = "") -> Analysis:
    """``analyse_here`` in a forked child with limits; BrokenFile (Chinese) when the file is
    broken, takes too long or kills its parser."""
    kind = kind.lower()
    if kind not in PARSERS:
        return Analysis("none")
    label = f"文件“{name}”" if name else "文件"
    seconds = int(getattr(settings, "QUNLI_EXTRACT_SECONDS", 30))
    mem = int(getattr(settings, "QUNLI_EXTRACT_MEMORY_BYTES", 2 * 1024 ** 3))
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Linux has fork
        try:
            return analyse_here(path, kind)
        except BrokenFile as e:
            raise BrokenFile(f"{label}：{e}") from None
    ctx = _context(kind)
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child_conn, path, kind, mem, seconds), daemon=True)
    proc.start()
    child_conn.close()
    try:
        if not parent_conn.poll(seconds):
            raise BrokenFile(f"{label}在{seconds}秒内未能解析完成，疑似损坏或恶意文件，已拒绝。")
        try:
            status, payload = parent_conn.recv()
        except (EOFError, OSError):
            raise BrokenFile(f"{label}导致解析程序异常退出，文件已损坏或疑似恶意文件，已拒绝。") from None
    finally:
        parent_conn.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if status != "ok":
        raise BrokenFile(f"{label}：{payload}")
    return payload


# --- storage ---------------------------------------------------------------------------------

def local_path(storage, name: str):
    """(path, temporary?) of a stored file for the child to open."""
    try:
        return storage.path(name), False
    except NotImplementedError:
        fd, tmp = tempfile.mkstemp(prefix="qunli-extract-")
        with os.fdopen(fd, "wb") as out, storage.open(name, "rb") as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        return tmp, True


def thumb_name(sm3: str) -> str:
    return f"thumbs/{sm3[:2]}/{sm3}.png"


def ensure_content(sm3: str, storage_name: str, kind: str, name: str = ""):
    """The FileContent of this digest, analysing the file the first time it is seen."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import IntegrityError, transaction

    from .file_models import FileContent

    found = FileContent.objects.filter(sm3=sm3).first()
    if found is not None:
        return found
    kind = kind.lower()
    if kind in PARSERS:
        path, temporary = local_path(default_storage, storage_name)
        try:
            res = analyse(path, kind, name)
        finally:
            if temporary:
                os.unlink(path)
    else:
        res = Analysis("none")
    thumb = ""
    if res.thumb:
        thumb = thumb_name(sm3)
        if not default_storage.exists(thumb):
            saved = default_storage.save(thumb, ContentFile(res.thumb))
            if saved != thumb:
                default_storage.delete(saved)
    content = FileContent(sm3=sm3, kind=kind, status=res.status, text=res.text, page_count=res.pages,
                          thumb_name=thumb)
    try:
        with transaction.atomic():
            content.save(force_insert=True)
    except IntegrityError:  # analysed concurrently by another capture of the same bytes
        content = FileContent.objects.get(sm3=sm3)
    return content
