"""Streaming xlsx export: rows go to a constant-memory workbook on disk, then out."""

import tempfile

import xlsxwriter
from django.http import FileResponse
from django.utils import timezone


def write_xlsx(fh, headers: list[str], rows, sheet_name: str = "数据") -> int:
    wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir(),
                                  "strings_to_numbers": False, "strings_to_formulas": False})
    ws = wb.add_worksheet(sheet_name[:31])
    bold = wb.add_format({"bold": True, "bg_color": "#F2F2F2"})
    ws.write_row(0, 0, headers, bold)
    n = 0
    for n, row in enumerate(rows, start=1):
        ws.write_row(n, 0, [_cell(v) for v in row])
    ws.freeze_panes(1, 0)
    wb.close()
    return n


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    return str(v)


def stream_xlsx(name: str, headers: list[str], rows) -> FileResponse:
    tmp = tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx(tmp, headers, rows)
    tmp.seek(0)
    filename = f"{name}-{timezone.localtime():%Y%m%d%H%M}.xlsx"
    return FileResponse(tmp, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
