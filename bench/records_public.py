"""``qunli bench records-public [--scale N] --json``: the public archives catalogue.

Measures, over N filed items (100,000 by default; one in three 开放, the rest 控制使用,
待定 or 秘密), the anonymous catalogue search as the portal runs it, with 2- and 4-character
queries (half with a year filter): ``p95_ms`` is the data path of one results page (filters,
``Item.objects.public()`` through the full-text index, the 20 rows, their snippets);
``view_p95_ms`` the whole view ``portal.catalogue_views.catalogue`` rendered. Every hit that
is not public is counted (``leaks``, must be 0).

Peer in the same run: ``icontains`` — the same public queryset filtered with
``title/responsible/doc_no__contains`` (what most systems do), newest 20.

Also: watermarked page images per second (``records.use``: an A4 PDF page rendered by
pypdfium2, the watermark drawn with Pillow, JPEG-encoded) — cold (a new watermark text on
every page) and warm (one reader's pages within a minute reuse the overlay) — against the same
pipeline without the watermark (peer ``plain_render``); the ratio is the watermark's cost.

Data is built once into a SQLite file under the bench cache (keyed by N) and reused."""

import io
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_N = 100_000
QUERIES = 100
PAGES = 30
YEARS = list(range(1960, 2025))


def _populate(n: int):
    import datetime as dt

    from bench.records_search import _sentences, _titles
    from qunli.core import search
    from qunli.core.maintenance import refresh_planner_statistics
    from qunli.orgs.models import Level, Line, Unit
    from qunli.records.models import Category, Fonds, Item

    women = Line.objects.get(code="women")
    root = Unit.objects.add_root({"name": "基准县", "level": Level.COUNTY})
    fonds = []
    for k in range(8):
        unit = Unit.objects.get(pk=root.pk).add_child(name=f"基准单位{k + 1}", level=Level.COUNTY, line=women)
        fonds.append(Fonds.objects.create(code=f"P{k:02d}", name=unit.name, unit=unit))
    ws = Category.objects.get(code="WS")
    rnd = random.Random(20261206)
    titles = _titles(rnd, _sentences())
    states = [("open", "internal")] * 3 + [("controlled", "internal"), ("pending", "internal"),
                                            ("open", "secret"), ("pending", "public"), ("controlled", "public"),
                                            ("open", "confidential")]
    batch = []
    for i in range(n):
        year = rnd.choice(YEARS)
        f = fonds[rnd.randrange(len(fonds))]
        openness, classification = states[i % len(states)]
        batch.append(Item(fonds=f, category=ws, year=year, retention="Y", title=next(titles), responsible="县妇联",
                          date=dt.date(year, rnd.randint(1, 12), rnd.randint(1, 28)), doc_no=f"{f.code}发〔{year}〕{i}号",
                          classification=classification, openness=openness, pages=2, status="filed",
                          piece_no=i + 1, archival_code=f"{f.code}-WS·{year}-Y-{i + 1:07d}"))
        if len(batch) == 20000:
            Item.objects.bulk_create(batch)
            batch = []
    Item.objects.bulk_create(batch)
    search.rebuild("records.item")
    search.rebuild("records.catalogue")  # the public searches this one (catalogue fields only)
    refresh_planner_statistics()


def _a4_pdf() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1240, 1754), "white")
    d = ImageDraw.Draw(img)
    for y in range(150, 1600, 40):
        d.rectangle((120, y, 1120, y + 12), fill=(40, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PDF", resolution=150)
    return buf.getvalue()


def _child(db: Path, n: int) -> dict:
    from bench.records_search import _setup_django

    fresh = not db.exists()
    _setup_django(db)
    from django.core.management import call_command

    if fresh:
        call_command("migrate", verbosity=0)
        _populate(n)

    from django.db import connection
    from django.db.models import Q
    from django.test import RequestFactory

    from bench.common import latency_metrics
    from qunli.portal import catalogue_views
    from qunli.records import use
    from qunli.records.models import Item

    public_ids = set(Item.objects.public().values_list("pk", flat=True))
    rnd = random.Random(7)
    sample = list(Item.objects.public().order_by("?").values_list("title", "year")[:3000])
    cases = []
    for title, year in sample:
        runs = [r for r in re.findall("[\u4e00-\u9fff]+", title) if len(r) >= 4]
        if runs and len(cases) < QUERIES:
            r = rnd.choice(runs)
            k = 2 if len(cases) % 2 else 4
            i = rnd.randint(0, len(r) - k)
            cases.append((r[i:i + k], year if len(cases) % 4 < 2 else None))
    factory = RequestFactory()
    ours, view, peer, leaks, errors = [], [], [], 0, 0
    for q, year in cases:
        params = {"q": q, **({"year": year} if year else {})}
        t0 = time.perf_counter()  # the data path of one results page: filters, search, rows, snippets
        qs, text, _ = catalogue_views.filtered(params)
        ids = catalogue_views.matching_ids(qs, text, catalogue_views.SEARCH_CAP + 1)
        rows = catalogue_views._rows(qs, ids[:catalogue_views.PAGE])
        catalogue_views.snippets(text, [r["id"] for r in rows])
        ours.append((time.perf_counter() - t0) * 1000)
        leaks += len({r["id"] for r in rows} - public_ids)
        request = factory.get("/portal/catalogue/", params)
        t0 = time.perf_counter()  # the whole page, rendered
        response = catalogue_views.catalogue(request)
        view.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            errors += 1
        shown = {int(m) for m in re.findall(r'id="item-(\d+)"', response.content.decode())}
        leaks += len(shown - public_ids)
        qs = Item.objects.public()
        if year:
            qs = qs.filter(year=year)
        t0 = time.perf_counter()
        list(qs.filter(Q(title__contains=q) | Q(responsible__contains=q) | Q(doc_no__contains=q))
             .order_by("-pk").values_list("pk", flat=True)[:20])
        peer.append((time.perf_counter() - t0) * 1000)

    # watermarked pages per second vs the same rendering without the watermark
    import pypdfium2 as pdfium

    pdf = _a4_pdf()

    def render(mark: str | None):
        img = pdfium.PdfDocument(pdf)[0].render(scale=use.RENDER_SCALE).to_pil().convert("RGB")
        if mark:
            img = use.draw_watermark(img, mark)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)

    rates = {}
    for kind in ("cold", "warm", "plain"):
        render("王芳 预热")
        t0 = time.perf_counter()
        for i in range(PAGES):
            # cold: a new text on every page (another reader or minute: the overlay is drawn);
            # warm: one reader's pages within a minute (the overlay is reused)
            render({"cold": f"王芳 2026-12-06 20:{i:02d} 利用单ABCDEFGHJK 仅供阅览",
                    "warm": "王芳 2026-12-06 20:30 利用单ABCDEFGHJK 仅供阅览", "plain": None}[kind])
        rates[kind] = PAGES / (time.perf_counter() - t0)
    metrics = {**latency_metrics(ours), **latency_metrics(view, "view_"), "errors": errors, "leaks": leaks, "queries": len(cases),
               "public_items": len(public_ids), "watermark_pages_per_s": round(rates["cold"], 2),
               "watermark_warm_pages_per_s": round(rates["warm"], 2)}
    return {"metrics": metrics, "vendor": connection.vendor,
            "peers": {"icontains": latency_metrics(peer),
                      "plain_render": {"watermark_pages_per_s": round(rates["plain"], 2)}}}


def run(scale=None, stdout=None):
    from bench.common import cache_dir, result

    n = int(scale or DEFAULT_N)
    db = cache_dir("records_public") / f"items-{n}-catalogue.sqlite3"  # keyed by the index layout too
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-P", __file__, str(db), str(n)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        if db.exists() and "_populate" in proc.stderr:
            db.unlink()
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    m = out["metrics"]
    if stdout:
        stdout.write(f"{n} items ({m['public_items']} public); catalogue search p95 {m['p95_ms']} ms, icontains "
                     f"{out['peers']['icontains']['p95_ms']} ms; leaks {m['leaks']}; "
                     f"{m['watermark_pages_per_s']} watermarked pages/s\n")
    res = result("records-public", f"{n} items", m, out["peers"],
                 {"p95_ms": "<= 30", "leaks": "<= 0", "errors": "<= 0"}, "p95_ms", False)
    res["ratios"]["plain_render"] = round(m["watermark_pages_per_s"] /
                                          out["peers"]["plain_render"]["watermark_pages_per_s"], 3)
    res["backend"] = "sqlite"
    return res


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), int(sys.argv[2])), ensure_ascii=False))
