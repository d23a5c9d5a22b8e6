"""What a dossier owes: the breakdown of a procedure's fees (app/catalog `fees`) for a number of
copies, less an exemption; or one amount stated by the officer (the action's `fee`)."""

from __future__ import annotations

from typing import Any

from app.errors import Invalid
from app.models import Procedure

KIND_LABELS = {"fee": "Phí", "charge": "Lệ phí"}
PER_LABELS = {"case": "hồ sơ", "copy": "bản"}


def money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def breakdown(procedure: Procedure, *, copies: int = 1, exemption: str | None = None,
              amount: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
    """(rows, exemption applied, total). `amount`: the officer states the sum (one row)."""
    fees = procedure.fees or {}
    if amount is not None:
        items = [{"kind": "fee", "name": "Phí, lệ phí theo thông báo của cơ quan", "amount": amount, "per": "case"}]
    elif fees.get("items"):
        items = fees["items"]
    elif procedure.fee:
        items = [{"kind": "charge", "name": procedure.fee_note or "Lệ phí", "amount": procedure.fee, "per": "case"}]
    else:
        items = []
    applied = None
    if exemption:
        applied = next((e for e in fees.get("exemptions", []) if e["code"] == exemption), None)
        if applied is None:
            raise Invalid(f"Thủ tục không quy định đối tượng miễn, giảm “{exemption}”.", code="exemption_not_found",
                          detail={"exemptions": [e["code"] for e in fees.get("exemptions", [])]})
    rows = []
    for item in items:
        quantity = copies if item.get("per") == "copy" else 1
        percent = applied["percent"] if applied and item["kind"] in applied.get("kinds", ("fee", "charge")) else 0
        gross = int(item["amount"]) * quantity
        rows.append({"kind": item["kind"], "name": item["name"], "amount": int(item["amount"]),
                     "per": item.get("per", "case"), "quantity": quantity, "exempt_percent": percent,
                     "total": gross - gross * percent // 100})
    total = sum(row["total"] for row in rows)
    if total <= 0:
        raise Invalid("Không có khoản phí, lệ phí nào phải nộp (thủ tục không thu, hoặc được miễn): không cần yêu "
                      "cầu thực hiện nghĩa vụ tài chính.", code="nothing_to_pay")
    return rows, applied, total


def refundable(procedure: Procedure, closing: str) -> bool:
    return closing in (procedure.fees or {}).get("refundable_on", [])
