"""Citizens' feedback (phản ánh, kiến nghị) and satisfaction ratings (app/feedback, docs/FEEDBACK.md).

Staff (`/api/v1/feedback`): the agency's queue, one feedback, assign, answer, and the feedback
alerts; another agency's feedback is 404. Citizens, no login: general feedback (rate-limited per
address), feedback about a dossier and a rating with the token a lookup returned or the signed
link of the "result returned" message (never the lookup secret), as JSON and as plain HTML forms
on /tra-cuu (they work without JavaScript).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.api.deps import ClockDep, SessionDep, SessionFactoryDep, SettingsDep
from app.auth.deps import require_roles
from app.auth.principal import Principal
from app.channels.messages import ALERT_LABELS
from app.db import transaction
from app.errors import DomainError, RateLimited
from app.feedback import links, pages
from app.feedback import service as feedback
from app.feedback.models import FeedbackAlert
from app.feedback.schemas import (AnswerIn, AssignIn, DossierFeedbackIn, FeedbackAlertOut, FeedbackOut, FeedbackPage,
                                  FeedbackReceipt, GeneralFeedbackIn, RatingIn, RatingReceipt)
from app.models import Role
from app.web import ratelimit

Handler = Annotated[Principal, Depends(require_roles(Role.desk, Role.specialist, Role.leader))]
Dispatcher = Annotated[Principal, Depends(require_roles(Role.desk, Role.leader))]
FeedbackId = Annotated[int, Path(ge=1, le=2**31 - 1)]

router = APIRouter(prefix="/api/v1/feedback", tags=["phản ánh, kiến nghị"])
public = APIRouter(tags=["phản ánh, đánh giá công khai"])


# --- staff -------------------------------------------------------------------------------------

def _alert_out(alert: FeedbackAlert, reference: str, recipient: str) -> FeedbackAlertOut:
    assert alert.id is not None
    return FeedbackAlertOut(id=alert.id, kind=alert.kind, kind_label=ALERT_LABELS.get(alert.kind, alert.kind),
                            feedback_id=alert.feedback_id, reference=reference, deadline_at=alert.deadline_at,
                            message=alert.message, recipient=recipient, created_at=alert.created_at,
                            acked_at=alert.acked_at)


@router.get("", response_model=FeedbackPage, summary="Phản ánh, kiến nghị của cơ quan (mới nhất trước)")
def queue(session: SessionDep, principal: Handler, clock: ClockDep,
          status: Literal["new", "assigned", "answered"] | None = None,
          mine: Annotated[bool, Query(description="Chỉ phản ánh giao cho tôi")] = False,
          overdue: Annotated[bool, Query(description="Chỉ phản ánh chưa trả lời đã quá hạn")] = False,
          before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Con trỏ trang (next_cursor)")] = None,
          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> FeedbackPage:
    now = clock.now()
    rows, cursor = feedback.queue(session, principal, status=status, mine=mine, overdue_at=now if overdue else None,
                                  before=before, limit=limit)
    return FeedbackPage(items=[feedback.present(session, f, principal, now=now) for f in rows], next_cursor=cursor)


@router.get("/alerts", response_model=list[FeedbackAlertOut],
            summary="Cảnh báo hạn trả lời phản ánh: của tôi, hoặc của cả cơ quan (lãnh đạo)")
def alerts(session: SessionDep, principal: Handler,
           scope: Annotated[Literal["mine", "agency"], Query(description="mine: gửi cho tôi; agency: cả cơ quan")] = "mine",
           before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[FeedbackAlertOut]:
    rows, _ = feedback.alerts(session, principal, scope=scope, before=before, limit=limit)
    return [_alert_out(*row) for row in rows]


@router.post("/alerts/{feedback_alert_id}/ack", response_model=FeedbackAlertOut,
             summary="Đánh dấu đã xem một cảnh báo phản ánh gửi cho tôi")
def ack(feedback_alert_id: FeedbackId, session: SessionDep, principal: Handler, clock: ClockDep) -> FeedbackAlertOut:
    return _alert_out(*feedback.ack(session, feedback_alert_id, principal, now=clock.now()))


@router.get("/{feedback_id}", response_model=FeedbackOut, summary="Một phản ánh, kiến nghị")
def one(feedback_id: FeedbackId, session: SessionDep, principal: Handler, clock: ClockDep) -> FeedbackOut:
    return feedback.present(session, feedback.get(session, feedback_id, principal), principal, now=clock.now())


@router.post("/{feedback_id}/assign", response_model=FeedbackOut, summary="Giao phản ánh cho cán bộ trả lời")
def assign(feedback_id: FeedbackId, data: AssignIn, session: SessionDep, principal: Dispatcher,
           clock: ClockDep) -> FeedbackOut:
    now = clock.now()
    return feedback.present(session, feedback.assign(session, feedback_id, principal, data.assignee, now=now),
                            principal, now=now)


@router.post("/{feedback_id}/answer", response_model=FeedbackOut,
             summary="Trả lời phản ánh (gửi người dân qua SMS/thư điện tử; hiện trên trang tra cứu)")
def answer(feedback_id: FeedbackId, data: AnswerIn, session: SessionDep, principal: Handler, clock: ClockDep,
           settings: SettingsDep) -> FeedbackOut:
    now = clock.now()
    return feedback.present(session, feedback.answer(session, feedback_id, principal, data.answer, now=now,
                                                     settings=settings), principal, now=now)


# --- citizens: JSON ----------------------------------------------------------------------------

def _receipt(session, row) -> FeedbackReceipt:  # noqa: ANN001
    return FeedbackReceipt(reference=row.reference, received_at=row.received_at, due_at=row.due_at,
                           agency_name=feedback.agency_name(session, row))


@public.post("/api/v1/public/feedback", response_model=FeedbackReceipt, status_code=201,
             summary="Gửi phản ánh, kiến nghị về một thủ tục hoặc cơ quan (không cần đăng nhập; giới hạn theo địa chỉ)",
             responses={429: {"description": "Gửi quá nhiều lần; xem header Retry-After"}})
def general_feedback(data: GeneralFeedbackIn, request: Request, factory: SessionFactoryDep, clock: ClockDep,
                     settings: SettingsDep) -> FeedbackReceipt:
    now = clock.now()
    feedback.count_submission(factory, client=ratelimit.client_of(request, settings), now=now, settings=settings)
    with transaction(factory) as session:
        return _receipt(session, feedback.submit_general(session, data, now=now, settings=settings))


@public.post("/api/v1/public/feedback/dossier", response_model=FeedbackReceipt, status_code=201,
             summary="Gửi phản ánh, kiến nghị về hồ sơ của mình (mã phiên do tra cứu trả về)")
def dossier_feedback(data: DossierFeedbackIn, request: Request, factory: SessionFactoryDep, clock: ClockDep,
                     settings: SettingsDep) -> FeedbackReceipt:
    now = clock.now()
    dossier_id, _ = links.read_token(data.token, now=now, settings=settings, purposes=(links.LOOKUP,))
    feedback.count_submission(factory, client=ratelimit.client_of(request, settings), now=now, settings=settings)
    with transaction(factory) as session:
        return _receipt(session, feedback.submit_for_dossier(session, dossier_id, data.content, now=now,
                                                             settings=settings))


@public.post("/api/v1/public/ratings", response_model=RatingReceipt, status_code=201,
             summary="Đánh giá mức độ hài lòng, một lần cho mỗi hồ sơ đã trả kết quả",
             responses={409: {"description": "Chưa trả kết quả, hoặc đã đánh giá"}})
def rate(data: RatingIn, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> RatingReceipt:
    now = clock.now()
    dossier_id, purpose = links.read_token(data.token, now=now, settings=settings, purposes=(links.LOOKUP, links.RATING))
    rating, dossier = feedback.rate(session, dossier_id, data, via="link" if purpose == links.RATING else "lookup",
                                    now=now)
    return RatingReceipt(dossier_code=dossier.code, rated_at=rating.rated_at)


# --- citizens: HTML forms (no JavaScript needed) ----------------------------------------------

def _page(html: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={**pages.PAGE_HEADERS, **(headers or {})})


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]): pages.FIELD_MESSAGES.get(str(e["loc"][0]), "Giá trị không hợp lệ.")
            for e in exc.errors() if e.get("loc")}


@public.get("/tra-cuu/gop-y", response_class=HTMLResponse, include_in_schema=False)
def general_page(session: SessionDep) -> HTMLResponse:
    return _page(pages.render_general(session))


@public.post("/tra-cuu/gop-y", response_class=HTMLResponse, include_in_schema=False)
def general_page_submit(request: Request, session: SessionDep, factory: SessionFactoryDep, clock: ClockDep,
                        settings: SettingsDep, full_name: Annotated[str, Form(max_length=200)] = "",
                        phone: Annotated[str, Form(max_length=40)] = "",
                        procedure_code: Annotated[str, Form(max_length=40)] = "",
                        content: Annotated[str, Form(max_length=2100)] = "") -> HTMLResponse:
    values = {"full_name": full_name, "phone": phone, "procedure_code": procedure_code, "content": content}
    try:
        data = GeneralFeedbackIn(full_name=full_name, phone=phone, procedure_code=procedure_code or None,
                                 content=content)
    except ValidationError as exc:
        return _page(pages.render_general(session, values=values, field_errors=_field_errors(exc)), 422)
    now = clock.now()
    try:
        feedback.count_submission(factory, client=ratelimit.client_of(request, settings), now=now, settings=settings)
        row = feedback.submit_general(session, data, now=now, settings=settings)
    except RateLimited as exc:
        return _page(pages.render_general(session, values=values, error=exc.message), 429, exc.headers)
    except DomainError as exc:
        return _page(pages.render_general(session, values=values, error=exc.message), exc.status_code)
    return _page(pages.render_received(_receipt(session, row), settings), 201)


@public.post("/tra-cuu/phan-anh", response_class=HTMLResponse, include_in_schema=False)
def dossier_page_submit(request: Request, factory: SessionFactoryDep, clock: ClockDep, settings: SettingsDep,
                        token: Annotated[str, Form(max_length=200)] = "",
                        content: Annotated[str, Form(max_length=2100)] = "") -> HTMLResponse:
    now = clock.now()
    try:
        data = DossierFeedbackIn(token=token, content=content)
    except ValidationError:
        return _page(pages.render_message("Chưa gửi được phản ánh",
                                          "Nội dung phản ánh cần từ 10 đến 2.000 ký tự. Vui lòng quay lại và nhập lại."),
                     422)
    try:
        dossier_id, _ = links.read_token(data.token, now=now, settings=settings, purposes=(links.LOOKUP,))
        feedback.count_submission(factory, client=ratelimit.client_of(request, settings), now=now, settings=settings)
        with transaction(factory) as session:
            receipt = _receipt(session, feedback.submit_for_dossier(session, dossier_id, data.content, now=now,
                                                                    settings=settings))
    except DomainError as exc:
        return _page(pages.render_message("Chưa gửi được phản ánh", exc.message), exc.status_code, exc.headers)
    return _page(pages.render_received(receipt, settings), 201)


@public.get("/tra-cuu/danh-gia/{token}", response_class=HTMLResponse, include_in_schema=False)
def rating_page(token: Annotated[str, Path(max_length=200)], session: SessionDep, clock: ClockDep,
                settings: SettingsDep) -> HTMLResponse:
    try:
        dossier_id, _ = links.read_token(token, now=clock.now(), settings=settings,
                                         purposes=(links.LOOKUP, links.RATING))
    except DomainError as exc:
        return _page(pages.render_message("Không mở được trang đánh giá", exc.message), exc.status_code)
    return _page(pages.render_rating(session, dossier_id, token))


@public.post("/tra-cuu/danh-gia/{token}", response_class=HTMLResponse, include_in_schema=False)
def rating_page_submit(token: Annotated[str, Path(max_length=200)], session: SessionDep, clock: ClockDep,
                       settings: SettingsDep, reception: Annotated[str, Form(max_length=20)] = "",
                       handling_time: Annotated[str, Form(max_length=20)] = "",
                       staff_attitude: Annotated[str, Form(max_length=20)] = "",
                       comment: Annotated[str, Form(max_length=1100)] = "") -> HTMLResponse:
    now = clock.now()
    try:
        dossier_id, purpose = links.read_token(token, now=now, settings=settings, purposes=(links.LOOKUP, links.RATING))
    except DomainError as exc:
        return _page(pages.render_message("Không mở được trang đánh giá", exc.message), exc.status_code)
    try:
        data = RatingIn(token=token, reception=reception, handling_time=handling_time,  # type: ignore[arg-type]
                        staff_attitude=staff_attitude, comment=comment or None)
    except ValidationError:
        return _page(pages.render_rating(session, dossier_id, token,
                                         error="Vui lòng chọn mức độ hài lòng cho cả ba tiêu chí (góp ý tối đa "
                                               "1.000 ký tự)."), 422)
    try:
        with session.begin_nested():
            feedback.rate(session, dossier_id, data, via="link" if purpose == links.RATING else "lookup", now=now)
    except DomainError as exc:
        return _page(pages.render_message("Chưa ghi nhận đánh giá", exc.message), exc.status_code)
    return _page(pages.render_message("Cảm ơn ông/bà đã đánh giá",
                                      "Ý kiến của ông/bà đã được ghi nhận và giúp cơ quan phục vụ tốt hơn.",
                                      ok=True), 201)
