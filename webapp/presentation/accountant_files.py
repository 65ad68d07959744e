"""The accountant's export as files: two CSVs (for ``csv_download``) and one XLSX workbook.

Amounts are naira with two decimals: text from ``naira_plain`` in the CSVs, ``Decimal`` numbers
with a currency format in the workbook (never a float on the way). Text a spreadsheet could run
as a formula is neutralised: ``safe_cell`` in the CSVs, string-typed cells in the workbook.
"""
from __future__ import annotations

import io
from decimal import Decimal

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from webapp.money import naira_plain
from webapp.queries.accountant_export import AccountantExport, Collection
from webapp.queries.history import safe_cell

LEDGER_HEADER = ["Date", "Entry", "Memo", "Counterpart", "Payment reference", "Bill id", "Debit (NGN)",
                 "Credit (NGN)", "Balance (NGN)"]
COLLECTIONS_HEADER = ["Bill type", "Bills issued", "Cancelled", "Billed (NGN)", "Paid by period end (NGN)",
                      "Outstanding at period end (NGN)"]
NAIRA_FORMAT = '"₦"#,##0.00;-"₦"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd hh:mm"
DAY_FORMAT = "yyyy-mm-dd"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOLD = Font(bold=True)


def ledger_csv_rows(report: AccountantExport) -> list[list[str]]:
    """Header, the opening balance, one row per posting, the totals, the closing balance."""
    rows = [LEDGER_HEADER,
            [report.date_from.isoformat(), "", "Opening balance", "", "", "", "", "", naira_plain(report.opening_kobo)]]
    for line in report.lines:
        rows.append([
            line.posted_at.strftime("%Y-%m-%d %H:%M:%S"), str(line.entry_id), safe_cell(line.memo),
            safe_cell(line.counterpart), safe_cell(line.payment_reference),
            "" if line.bill_id is None else str(line.bill_id),
            naira_plain(line.debit_kobo) if line.debit_kobo else "",
            naira_plain(line.credit_kobo) if line.credit_kobo else "", naira_plain(line.balance_kobo),
        ])
    rows.append(["", "", "Totals", "", "", "", naira_plain(report.debits_kobo), naira_plain(report.credits_kobo), ""])
    rows.append([report.date_to.isoformat(), "", "Closing balance", "", "", "", "", "",
                 naira_plain(report.closing_kobo)])
    return rows


def collections_csv_rows(report: AccountantExport) -> list[list[str]]:
    """Header, one row per bill type, the total."""
    return [COLLECTIONS_HEADER, *(_collection_cells(row, naira_plain, str)
                                  for row in [*report.collections, report.collections_total])]


def _collection_cells(row: Collection, money, count) -> list:
    return [row.bill_type, count(row.issued), count(row.cancelled), money(row.billed_kobo), money(row.paid_kobo),
            money(row.outstanding_kobo)]


def _naira(kobo: int) -> Decimal:
    return (Decimal(kobo) / 100).quantize(Decimal("0.01"))


def _put(sheet: Worksheet, row: int, column: int, value, number_format: str | None = None, bold: bool = False):
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would store "=..." as a formula
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = BOLD
    return cell


def _money(sheet: Worksheet, row: int, column: int, kobo: int | None, bold: bool = False) -> None:
    if kobo is not None:
        _put(sheet, row, column, _naira(kobo), NAIRA_FORMAT, bold)


def _title(sheet: Worksheet, report: AccountantExport, what: str) -> int:
    _put(sheet, 1, 1, f"{report.estate.name}: {what}", bold=True)
    _put(sheet, 2, 1, "Period")
    _put(sheet, 2, 2, report.date_from, DAY_FORMAT)
    _put(sheet, 2, 3, report.date_to, DAY_FORMAT)
    return 4  # the header row


def _header(sheet: Worksheet, row: int, names: list[str], widths: list[int]) -> None:
    for column, (name, width) in enumerate(zip(names, widths, strict=True), start=1):
        _put(sheet, row, column, name, bold=True)
        sheet.column_dimensions[sheet.cell(row=row, column=column).column_letter].width = width
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1)


def _ledger_sheet(sheet: Worksheet, report: AccountantExport) -> None:
    row = _title(sheet, report, "estate wallet")
    _header(sheet, row, LEDGER_HEADER, [17, 8, 28, 32, 26, 8, 15, 15, 15])
    row += 1
    _put(sheet, row, 1, report.date_from, DAY_FORMAT)
    _put(sheet, row, 3, "Opening balance", bold=True)
    _money(sheet, row, 9, report.opening_kobo, bold=True)
    for line in report.lines:
        row += 1
        _put(sheet, row, 1, line.posted_at.replace(tzinfo=None), DATE_FORMAT)
        _put(sheet, row, 2, line.entry_id)
        _put(sheet, row, 3, line.memo)
        _put(sheet, row, 4, line.counterpart)
        _put(sheet, row, 5, line.payment_reference)
        _put(sheet, row, 6, line.bill_id)
        _money(sheet, row, 7, line.debit_kobo or None)
        _money(sheet, row, 8, line.credit_kobo or None)
        _money(sheet, row, 9, line.balance_kobo)
    row += 1
    _put(sheet, row, 3, "Totals", bold=True)
    _money(sheet, row, 7, report.debits_kobo, bold=True)
    _money(sheet, row, 8, report.credits_kobo, bold=True)
    row += 1
    _put(sheet, row, 1, report.date_to, DAY_FORMAT)
    _put(sheet, row, 3, "Closing balance", bold=True)
    _money(sheet, row, 9, report.closing_kobo, bold=True)


def _collections_sheet(sheet: Worksheet, report: AccountantExport) -> None:
    row = _title(sheet, report, "estate bills issued in the period")
    _header(sheet, row, COLLECTIONS_HEADER, [20, 13, 11, 16, 24, 28])
    rows = [*report.collections, report.collections_total]
    for index, collection in enumerate(rows):
        row += 1
        total = index == len(rows) - 1
        _put(sheet, row, 1, collection.bill_type, bold=total)
        _put(sheet, row, 2, collection.issued, bold=total)
        _put(sheet, row, 3, collection.cancelled, bold=total)
        for column, kobo in ((4, collection.billed_kobo), (5, collection.paid_kobo), (6, collection.outstanding_kobo)):
            _money(sheet, row, column, kobo, bold=total)


def workbook_bytes(report: AccountantExport) -> bytes:
    """An XLSX workbook with a Ledger sheet and a Collections sheet."""
    book = Workbook()
    ledger = book.active
    ledger.title = "Ledger"
    _ledger_sheet(ledger, report)
    _collections_sheet(book.create_sheet("Collections"), report)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def workbook_download(report: AccountantExport) -> Response:
    return Response(workbook_bytes(report), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f'attachment; filename="{report.name_stem}.xlsx"',
                             "Cache-Control": "no-store"})
