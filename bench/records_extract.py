"""``qunli bench records-extract [--scale N] --json``: text extraction of N distinct PDF files
(two pages of Chinese text each, made by weasyprint; 200 by default) and N OFD files, through
``records.extract.analyse`` — each file parsed in a forked child with its time and memory
limits, as capture does.

Peer ``in_process`` (same run, same files): ``analyse_here``, the same parsers called in the
benchmark process without isolation. The ratio (files/s, ours / peer) is the price of the
isolation that keeps a hostile file from hanging or crashing the web process. The files are
kept under the bench cache; no database is touched."""

import io
import time
import zipfile

from bench.common import cache_dir, result


def _make_files(n: int):
    from weasyprint import HTML

    d = cache_dir("records_extract", str(n))
    paths = []
    for i in range(n):
        pdf = d / f"{i:05d}.pdf"
        if not pdf.exists():
            html = (f'<html><body style="font-family: \'Noto Sans CJK SC\'"><p>第{i}号文件 关于开展妇女儿童'
                    f'工作的通知</p><p style="page-break-before: always">第二页 巾帼建功 {i}</p></body></html>')
            pdf.write_bytes(HTML(string=html).write_pdf())
        ofd = d / f"{i:05d}.ofd"
        if not ofd.exists():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("OFD.xml", "<OFD><DocBody><DocRoot>Doc_0/Document.xml</DocRoot></DocBody></OFD>")
                z.writestr("Doc_0/Document.xml", '<Document><Pages><Page BaseLoc="P0/Content.xml"/></Pages></Document>')
                z.writestr("Doc_0/P0/Content.xml", f"<Page><TextObject><TextCode>第{i}号 OFD 正文</TextCode>"
                                                   f"</TextObject></Page>")
            ofd.write_bytes(buf.getvalue())
        paths += [(str(pdf), "pdf"), (str(ofd), "ofd")]
    return paths


def run(scale=None, stdout=None):
    from qunli.records import extract

    n = int(scale or 200)
    files = _make_files(n)
    t = time.perf_counter()
    chars = sum(len(extract.analyse(p, k).text) for p, k in files)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    peer_chars = sum(len(extract.analyse_here(p, k).text) for p, k in files)
    theirs = time.perf_counter() - t
    assert chars == peer_chars and chars > 0
    metrics = {"files": len(files), "qunli_files_per_s": round(len(files) / ours, 1),
               "qunli_ms_per_file": round(1000 * ours / len(files), 2), "text_chars": chars}
    peers = {"in_process": {"files_per_s": round(len(files) / theirs, 1),
                            "ms_per_file": round(1000 * theirs / len(files), 2)}}
    return result("records-extract", f"{n} PDF + {n} OFD", metrics, peers, {"qunli_files_per_s": ">= 5"},
                  "qunli_files_per_s", higher_is_better=True)
