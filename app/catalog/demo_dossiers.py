"""Demo dossiers for `make run`: a few weeks of one-stop work, made through the real service
functions with a clock set in the past, so every row, event, slip line and outbox message is
what the product itself writes. Runs once per database (skipped when dossiers exist)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, func, select

from app.auth.principal import principal_for
from app.catalog.service import get_procedure
from app.effects import Context
from app.models import Dossier
from app.settings import Settings
from app.sla import service as sla
from app.workflows import actions, codes, intake
from app.workflows.schemas import ActionIn, IntakeIn

DEMO_SECRET = "MCDM-2026"  # the first demo dossier's lookup secret, printed by seed-demo and the README

APPLICANTS = [
    ("Nguyễn Văn An", "001099012345", "0912345678"), ("Trần Thị Bình", "001199000111", "0987654321"),
    ("Lê Hoàng Cường", "034098001234", "0905111222"), ("Phạm Thu Dung", "036197004567", "0936222333"),
    ("Hoàng Minh Đức", "038096007890", "0977333444"), ("Vũ Thị Giang", "040195001122", "0918444555"),
    ("Đặng Quốc Huy", "042094003344", "0968555666"), ("Bùi Thanh Hương", "044193005566", "0909666777"),
]
# (days ago received, procedure code, channel, how far it went)
PLAN = [
    (0, "1.005092", "direct", "received"),
    (1, "2.001914", "direct", "processing"),
    (3, "2.001914", "postal", "processing"),
    (6, "2.001914", "direct", "overdue"),
    (8, "1.005092", "direct", "returned"),
    (12, "1.005090", "direct", "returned"),  # the demo specialist works in Phòng Khảo thí và QLCL
    (15, "2.001914", "direct", "supplement"),
    (18, "1.004889", "direct", "returned"),
    (20, "2.001914", "direct", "late_returned"),
    (25, "1.005092", "postal", "returned_by_post"),
    (30, "2.002855", "direct", "refused"),
    (35, "2.001914", "direct", "withdrawn"),
]


def demo_code(session: Session) -> str | None:
    """Code of the dossier whose lookup secret is DEMO_SECRET: the first one seed-demo made."""
    first = session.exec(select(Dossier).order_by(Dossier.id).limit(1)).first()  # type: ignore[arg-type]
    if first is not None and first.lookup_secret_hash and codes.verify_secret(DEMO_SECRET, first.lookup_secret_hash):
        return first.code
    return None


class _Clock:
    """Moves in working time (officials act during office hours), never past `not_after`."""

    def __init__(self, at: datetime, *, cal, not_after: datetime) -> None:  # noqa: ANN001
        self.at, self.cal, self.not_after = at, cal, not_after

    def later(self, hours: float) -> datetime:
        self.at = min(self.cal.add_working_minutes(self.at, int(hours * 60)), self.not_after)
        return self.at


def seed_demo_dossiers(session: Session, *, settings: Settings, now: datetime) -> tuple[int, str | None]:
    """Create the demo dossiers; returns (how many, code of the one whose secret is DEMO_SECRET).
    Once dossiers exist nothing is created, and the code returned is still the demo one (when the
    first dossier of the database is the demo dossier), so every `make run` prints it."""
    if session.exec(select(func.count()).select_from(Dossier)).one():
        return 0, demo_code(session)
    desk, specialist = principal_for(session, "motcua"), principal_for(session, "chuyenvien")
    head, director, postal = (principal_for(session, u) for u in ("truongphong", "giamdoc", "buudien"))
    cal = sla.calendar_for(session, desk.scope_agency_id, settings)
    first_code = None
    for index, (days_ago, procedure_code, channel, stage) in enumerate(PLAN):
        # A working moment about `days_ago` working days back: never in the future, never on a holiday.
        at = cal.subtract_working_minutes(now, days_ago * cal.minutes_per_day + 60 + 7 * index)
        clock = _Clock(at, cal=cal, not_after=now)
        procedure = get_procedure(session, procedure_code)
        name, id_number, phone = APPLICANTS[index % len(APPLICANTS)]
        body = {"procedure_code": procedure_code, "channel": channel,
                "applicant": {"full_name": name, "id_number": id_number, "phone": phone,
                              "address": "Phường Mẫu, tỉnh Mẫu"},
                "documents": [{"name": d["name"], "kind": d.get("kind", "either")} for d in procedure.required_documents],
                "return_method": "postal" if stage == "returned_by_post" else "desk"}
        if stage == "refused":
            body.update(documents=[], decision="refuse", reason="Hồ sơ không thuộc thẩm quyền giải quyết của Sở.")
        if channel == "postal":
            body["postal"] = {"tracking_number": f"EB{index:03d}DEMO{days_ago:03d}VN", "handed_over_at": at.isoformat()}
            body["received_by"] = "motcua"  # the desk officer who took the package from the post
        who = postal if channel == "postal" else desk
        dossier, secret = intake.receive(session, IntakeIn.model_validate(body),
                                          Context(who, clock.at, settings))
        if first_code is None:
            first_code = dossier.code
            dossier.lookup_secret_hash = codes.hash_secret(DEMO_SECRET)

        # Short procedures move faster: scale the hours each official takes to the time limit.
        pace = min(1.0, dossier.limit_minutes / 60 / 40) if dossier.limit_minutes else 1.0

        def step(principal, action, hours=2.0, **payload):  # noqa: ANN001, ANN202
            nonlocal dossier
            dossier = actions.act(session, dossier.code, action, ActionIn(**payload),
                                  Context(principal, clock.later(hours * pace), settings), dossier.version)

        if stage in {"received", "refused"}:
            continue
        step(desk, "forward", 0.5, assignee="chuyenvien")
        if stage == "supplement":
            step(specialist, "request_supplement", 3, items=["Bản sao giấy khai sinh", "Ảnh 3x4"])
            continue
        if stage == "withdrawn":
            step(desk, "withdraw", 5, reason="Người nộp xin rút hồ sơ để bổ sung thông tin.")
            continue
        if stage == "processing":
            continue
        step(specialist, "forward", 6)
        if stage == "overdue":
            continue
        if dossier.current_step is not None and procedure.workflow[dossier.current_step]["role"] == "leader" \
                and procedure.workflow[dossier.current_step].get("scope") == "division":
            step(head, "forward", 3)
        late = 8 * 9 if stage == "late_returned" else 3
        step(director, "forward", late, result_reference=f"{index + 1:02d}/QĐ-SGDĐT")  # signed
        step(desk, "resolve", 1)  # the result is at the desk: ready
        if stage == "returned_by_post":
            step(desk, "return_result", 2, method="postal", tracking_number=f"RR{index:03d}DEMO{days_ago:03d}VN")
        else:
            step(desk, "return_result", 2, method="desk", receiver_name=name)
    session.flush()
    _citizens_say(session, director, settings=settings, now=now)
    return len(PLAN), first_code


# How the applicants of the returned demo dossiers rated them (reception, handling time, attitude),
# in the order they were received; the dashboard's satisfaction cards and table read them.
RATINGS = [("very_satisfied", "very_satisfied", "very_satisfied", "Cán bộ hướng dẫn tận tình."),
           ("satisfied", "satisfied", "very_satisfied", None),
           ("satisfied", "not_satisfied", "satisfied", "Trả kết quả trễ so với giấy hẹn."),
           ("very_satisfied", "satisfied", "satisfied", None)]


def _citizens_say(session: Session, leader, *, settings: Settings, now: datetime) -> None:  # noqa: ANN001
    """Ratings of the returned demo dossiers, and two pieces of feedback about the demo dossiers:
    one answered by the Deputy Director, one still waiting in the agency's queue."""
    from app.feedback import service as feedback
    from app.feedback.schemas import RatingIn

    returned = session.exec(select(Dossier).where(Dossier.status == "returned").order_by(Dossier.id)).all()
    for dossier, (reception, handling, attitude, comment) in zip(returned, RATINGS):
        rating = RatingIn(token="demo-seed-rating", reception=reception, handling_time=handling,
                          staff_attitude=attitude, comment=comment)
        feedback.rate(session, dossier.id, rating, via="lookup",  # type: ignore[arg-type]
                      now=min(now, dossier.returned_at or now))
    waiting = session.exec(select(Dossier).where(Dossier.status == "processing").order_by(Dossier.id)).all()
    if returned:
        answered = feedback.submit_for_dossier(
            session, returned[0].id, "Tôi muốn nhận thêm một bản sao kết quả thì làm thủ tục gì?",  # type: ignore[arg-type]
            now=now, settings=settings)
        feedback.answer(session, answered.id, leader, "Ông/bà nộp đề nghị cấp bản sao từ sổ gốc tại Bộ phận "  # type: ignore[arg-type]
                        "Một cửa của Sở; kết quả trong ngày làm việc.", now=now, settings=settings)
    if waiting:
        feedback.submit_for_dossier(session, waiting[0].id,  # type: ignore[arg-type]
                                    "Hồ sơ của tôi đã quá nửa thời hạn, xin cho biết đang ở bước nào.",
                                    now=now, settings=settings)



