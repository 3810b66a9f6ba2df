"""A package's payload files, each read once: its SM3 and SHA-256, the facts the usability
checks need (``inspect_format`` parses only those: PDF header/xref/trailer, JPEG markers, PNG
chunk CRCs, TIFF IFD, DOCX/OFD zip directory and root part) and, for a directory bag, its place
in the bag (a hard link to the content-addressed store, else a copy).

Standard library only: a large directory bag is read by child processes running this module
(``python -m qunli.records.payload``, fed by ``transfer._Children``), which never set up Django
— they are given absolute paths, pickled windows of ``(name, source, destination)``, and answer
with plain tuples. Threads in the packaging process kept its writer waiting for the GIL."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import struct
import sys
import zipfile
import zlib

READ_LIMIT = 256 * 1024 * 1024  # files larger than this are hashed in chunks and parsed from their head/tail

# (size, SM3, SHA-256, unreadable reason, encryption/compression reason) of a file that was read
Facts = tuple[int, str, str, str | None, str | None]


# --- usability: parse only what is needed ---------------------------------------------------------

def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def inspect_format(name: str, data: bytes, tail: bytes | None = None) -> tuple[str | None, str | None]:
    """(unreadable reason, encryption/compression reason) for a file whose bytes are ``data``
    (for a huge file: its head, with ``tail`` its last bytes). None means fine."""
    ext = extension(name)
    tail = data[-4096:] if tail is None else tail
    try:
        if ext == "pdf":
            return _pdf(data, tail)
        if ext in ("jpg", "jpeg"):
            return _jpeg(data, tail), None
        if ext == "png":
            return _png(data), None
        if ext in ("tif", "tiff"):
            return _tiff(data), None
        if ext in ("docx", "ofd"):
            return _ooxml_ofd(ext, data)
    except (ValueError, IndexError, struct.error, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        return f"解析失败：{e}", None
    return None, None


def _pdf(data: bytes, tail: bytes):
    if not data.startswith(b"%PDF-"):
        return "缺少 PDF 文件头", None
    if b"%%EOF" not in tail[-2048:]:
        return "缺少 PDF 结束标记（%%EOF），文件可能被截断", None
    if b"startxref" not in tail[-4096:]:
        return "缺少交叉引用表位置（startxref）", None
    if b"/Encrypt" in tail or (len(data) <= READ_LIMIT and b"/Encrypt" in data):
        return None, "PDF 已加密（/Encrypt）"
    return None, None


def _jpeg(data: bytes, tail: bytes):
    if not data.startswith(b"\xff\xd8\xff"):
        return "缺少 JPEG 文件头"
    if b"\xff\xd9" not in tail[-64:]:
        return "缺少 JPEG 结束标记，文件可能被截断"
    pos, n = 2, len(data)
    while pos + 4 <= n:  # walk the segments up to the frame header
        if data[pos] != 0xFF:
            return "JPEG 段结构损坏"
        marker = data[pos + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return None if h and w else "JPEG 图像尺寸为 0"
        seg = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if seg < 2:
            return "JPEG 段长度无效"
        pos += 2 + seg
    return "未找到 JPEG 帧头（SOF）"


def _png(data: bytes):
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "缺少 PNG 文件头"
    pos, n, seen_ihdr = 8, len(data), False
    while pos + 12 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > n:
            return "PNG 数据块被截断"
        if ctype in (b"IHDR", b"IEND") and zlib.crc32(data[pos + 4:end]) != struct.unpack(">I", data[end:end + 4])[0]:
            return f"PNG 数据块 {ctype.decode()} 校验失败"
        if not seen_ihdr:
            if ctype != b"IHDR":
                return "PNG 首个数据块不是 IHDR"
            seen_ihdr = True
        if ctype == b"IEND":
            return None
        pos = end + 4
    return "缺少 PNG 结束块（IEND），文件可能被截断"


def _tiff(data: bytes):
    if data[:4] == b"II*\x00":
        endian = "<"
    elif data[:4] == b"MM\x00*":
        endian = ">"
    else:
        return "缺少 TIFF 文件头"
    offset = struct.unpack(endian + "I", data[4:8])[0]
    if offset < 8 or offset + 2 > len(data):
        return "TIFF 图像文件目录（IFD）位置无效"
    count = struct.unpack(endian + "H", data[offset:offset + 2])[0]
    if count == 0 or offset + 2 + count * 12 > len(data):
        return "TIFF 图像文件目录（IFD）损坏"
    return None


_ALLOWED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


def _ooxml_ofd(ext: str, data: bytes):
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return None, "文件是加密的 OLE 复合文档（已加密的 Office 文件）"
    if not data.startswith(b"PK\x03\x04"):
        return "不是有效的 ZIP 容器", None
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        for info in infos:
            if info.flag_bits & 0x1:
                return None, f"容器内部件“{info.filename}”已加密"
            if info.compress_type not in _ALLOWED_COMPRESSION:
                return None, f"容器内部件“{info.filename}”使用了非公开压缩算法（{info.compress_type}）"
        names = {i.filename for i in infos}
        root = "word/document.xml" if ext == "docx" else "OFD.xml"
        if ext == "docx" and "[Content_Types].xml" not in names:
            return "缺少 [Content_Types].xml，不是有效的 DOCX", None
        if root not in names:
            return f"缺少 {root}，不是有效的 {ext.upper()}", None
        head = zf.read(root)[:4096]
        if b"<" not in head:
            return f"{root} 不是 XML", None
        if zf.testzip() is not None:
            return "容器内部件 CRC 校验失败", None
    return None, None


# --- reading and placing --------------------------------------------------------------------------

def facts_of(name: str, data: bytes) -> Facts:
    """What one read of a file's bytes finds: both digests and its format facts."""
    return (len(data), hashlib.new("sm3", data).hexdigest(), hashlib.sha256(data).hexdigest(),
            *inspect_format(name, data))


def read_stored(name: str, source: str) -> Facts:
    """The facts of a stored file, read whole in one call (raises OSError when it cannot be read)."""
    with open(source, "rb", buffering=0) as fh:  # unbuffered: readall sizes one buffer by fstat
        return facts_of(name, fh.readall())


def place(source: str, dest: str) -> None:
    """Put the stored file at ``dest`` in a bag: a hard link (no bytes copied), or a copy when
    the bag is on another file system."""
    try:
        os.link(source, dest)
    except FileExistsError:  # placed before (a window read again): only a name in the bag, not the store's bytes
        os.unlink(dest)
        place(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _make_dir(path: str, made: set[str]) -> None:
    if path in made:
        return
    try:
        os.mkdir(path)  # an item's folder in one call: its parents exist but for the first
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)
    made.add(path)


def read_window(jobs: list[tuple[str, str, str | None]]) -> list[Facts | None]:
    """Each ``(name, source path, destination path or None)``: the stored file read once, and
    placed in the bag when a destination is given. None for a file that cannot be read (missing
    from the store), which is then not placed either."""
    made: set[str] = set()
    out: list[Facts | None] = []
    for name, source, dest in jobs:
        try:
            facts = read_stored(name, source)
        except OSError:
            out.append(None)
            continue
        if dest:
            _make_dir(os.path.dirname(dest), made)
            place(source, dest)
        out.append(facts)
    return out


def serve(inp, out) -> None:
    """A child process's loop (``python -m qunli.records.payload``, see ``transfer._Children``):
    a pickled window in, its facts out, until the parent closes the pipe."""
    while True:
        try:
            jobs = pickle.load(inp)
        except EOFError:
            return
        pickle.dump(read_window(jobs), out, pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
