"""Work lists: what waits for the caller (`GET /api/v1/dossiers?queue=mine`, counts per bucket for
a client's badges) and search (`?q=`), as conditions added to the scoped dossier query
(`app.access.scoped`: nothing outside the caller's agency is ever listed).

Buckets (disjoint; `mine` is their union):

* `assigned`      — a step assigned to me;
* `unassigned`    — an unassigned step my role may take in my agency (and, for a division step or an
                    agency leaders' step, in my unit: `Dossier.step_unit_id`), no hand-over pending;
                    a step assigned to an officer whose account was deactivated counts as unassigned
                    (whoever may take the step takes it over: `rules.assigned_elsewhere`);
* `handovers`     — desk: an inter-agency hand-over to my agency waiting to be accepted or returned;
* `to_check`      — desk: online submissions to check (accept, supplement, refuse);
* `to_forward`    — desk: received at my point, not yet sent to processing;
* `waiting_applicant` — desk: waiting for the applicant's supplement or fee (the desk records it);
* `to_return`     — desk: result ready at my point; the postal clerk: results to return by post.

Each open state has a holder: every status the transition table leaves open, at every kind of
step, is in some user's bucket (tests/api/test_worklists.py walks them).
"""

from __future__ import annotations

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.sql.expression import ColumnElement

from app.access import IdAmong
from app.auth.principal import Principal
from app.models import Dossier, DossierStatus, Handover, ReturnMethod, Role, User
from app.search import LIKE_ESCAPE, MIN_NAME_CHARS, like_pattern, name_key, phone_forms

S = DossierStatus
BUCKETS: dict[str, str] = {
    "assigned": "Đang giao cho tôi xử lý",
    "unassigned": "Chờ nhận xử lý (bước tôi được làm)",
    "handovers": "Hồ sơ liên thông chờ tiếp nhận bàn giao",
    "to_check": "Hồ sơ trực tuyến chờ kiểm tra",
    "to_forward": "Đã tiếp nhận, chờ chuyển xử lý",
    "waiting_applicant": "Chờ người nộp bổ sung hoặc nộp phí",
    "to_return": "Có kết quả, chờ trả",
}
STEP_ROLES = (Role.specialist, Role.leader, Role.desk)


def _pending_handovers(agency_id: int | None = None):  # noqa: ANN202
    query = select(Handover.dossier_id).where(Handover.status == "pending")
    if agency_id is not None:
        query = query.where(Handover.to_agency_id == agency_id)
    return query


def bucket_conditions(principal: Principal) -> dict[str, ColumnElement[bool]]:
    """The caller's buckets (only those their roles have), each a condition on `Dossier`."""
    agency = principal.scope_agency_id
    out: dict[str, ColumnElement[bool]] = {}
    roles = sorted(str(r) for r in STEP_ROLES if principal.has(r))
    processing = Dossier.status == S.processing
    if roles:
        out["assigned"] = and_(processing, Dossier.assignee_id == principal.id)
        left = IdAmong(select(User.id).where(User.is_active.is_(False)), column=Dossier.assignee_id)  # type: ignore[attr-defined]
        out["unassigned"] = and_(processing, or_(Dossier.assignee_id.is_(None), left),  # type: ignore[union-attr]
                                 Dossier.step_agency_id == agency, Dossier.step_role.in_(roles),  # type: ignore[union-attr]
                                 or_(Dossier.step_unit_id.is_(None),  # type: ignore[union-attr]
                                     Dossier.step_unit_id == principal.user.agency_id),
                                 Dossier.id.not_in(_pending_handovers()))  # type: ignore[union-attr]
    if principal.has(Role.desk):
        at_point = Dossier.receiving_agency_id == agency
        out["handovers"] = and_(processing, IdAmong(_pending_handovers(agency)))  # a primary-key probe
        out["to_check"] = and_(at_point, Dossier.status == S.submitted)
        out["to_forward"] = and_(at_point, Dossier.status == S.received)
        out["waiting_applicant"] = and_(at_point, Dossier.status.in_(  # type: ignore[attr-defined]
            [S.awaiting_supplement, S.awaiting_payment]))
        out["to_return"] = and_(at_point, Dossier.status == S.resolved)
    elif principal.has(Role.postal):
        out["to_return"] = and_(Dossier.status == S.resolved, Dossier.return_method == ReturnMethod.postal)
    return out


def queue_condition(principal: Principal, queue: str) -> ColumnElement[bool]:
    """`mine`: every bucket of the caller; a bucket's name: that bucket (none they have: nothing)."""
    buckets = bucket_conditions(principal)
    if queue == "mine":
        return or_(*buckets.values()) if buckets else false()
    return buckets.get(queue, false())


def count_query(query, principal: Principal):  # noqa: ANN001, ANN201
    """One statement: the number of dossiers in each of the caller's buckets and in their union."""
    buckets = bucket_conditions(principal)
    if not buckets:
        return None, []
    columns = [func.count().label("total")] + [func.sum(case((condition, 1), else_=0)).label(name)
                                                for name, condition in buckets.items()]
    return query.with_only_columns(*columns).where(or_(*buckets.values())), list(buckets)


def search_condition(q: str) -> ColumnElement[bool]:
    """A dossier whose code, applicant identity number or phone is `q`, or whose applicant name
    contains `q` typed with or without diacritics (đ ↔ d)."""
    text = q.strip()
    found: list[ColumnElement[bool]] = [Dossier.code == text.upper(),
                                        Dossier.applicant_id_number.in_(sorted({text, text.upper()}))]  # type: ignore[attr-defined]
    if phones := phone_forms(text):
        found.append(Dossier.applicant_phone.in_(phones))  # type: ignore[union-attr]
    key = name_key(text)
    if len(key) >= MIN_NAME_CHARS and not phones and not key.replace(" ", "").isdigit():  # a number is no name
        found.append(Dossier.applicant_name_key.like(like_pattern(key), escape=LIKE_ESCAPE))  # type: ignore[attr-defined]
    return or_(*found)
