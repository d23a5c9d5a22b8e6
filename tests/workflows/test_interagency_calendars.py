"""Issue 14, inter-agency calendars and the result's return, on both databases: each step runs on the
calendar of the agency holding it (the deadline scan, apology drafts), the appointment of form 01
is the chain of the steps' budgets each on its agency's calendar, and only the receiving point's
desk returns the result.

An override that exists only for the Provincial People's Committee (a day off) tells the
calendars apart: the Department works that day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import select

from app.db import transaction
from app.models import Agency, CalendarOverride
from app.sla.service import calendar_for
from app.web.render import vn_moment
from tests.sla.test_scan import alerts, scan
from tests.web.test_forms import page, text_of
from tests.workflows.test_interagency import CENTRE, DEPARTMENT, PPC, accept, get, receive_at_centre
from tests.workflows.test_scenarios import act

PROCEDURE_STEPS = 6  # 1.005015: Department 144 + 8 + 8 hours, Committee 28 + 8, centre 4


def day_off(app, clock, code: str, day: date) -> None:  # noqa: ANN001
    with transaction(app.state.sessionmaker) as s:
        agency_id = s.exec(select(Agency.id).where(Agency.code == code)).one()
        s.add(CalendarOverride(agency_id=agency_id, day=day, is_working=False, reason="Nghỉ bù (chỉ UBND tỉnh)",
                               created_at=clock.now(), version=1))


def calendars(app) -> dict:  # noqa: ANN001
    with app.state.sessionmaker() as s:
        return {code: calendar_for(s, s.exec(select(Agency.id).where(Agency.code == code)).one(), app.state.settings)
                for code in (CENTRE, DEPARTMENT, PPC)}


def to_the_committee(client, login, clock, dossier, *, at: datetime | None = None) -> dict:  # noqa: ANN001
    """Centre → Department (three steps) → hand-over to the People's Committee, accepted and assigned."""
    dossier = act(client, login("ttpv_motcua"), dossier, "forward")
    dossier = accept(client, login("motcua"), dossier, assignee="gdpt_chuyenvien")
    dossier = act(client, login("gdpt_chuyenvien"), dossier, "forward", assignee="gdpt_truongphong")
    dossier = act(client, login("gdpt_truongphong"), dossier, "forward")
    if at is not None:
        clock.set(at)
    dossier = act(client, login("giamdoc"), dossier, "forward")
    assert dossier["holder_agency_code"] == PPC
    return accept(client, login("ubnd_vanthu"), dossier, assignee="ubnd_chuyenvien")


def test_form_01_gives_the_appointment_of_the_chain_of_each_agencys_calendar(client, login, clock, app):
    """Gap 2: the appointment is the steps' budgets one after the other, each on its agency's calendar
    (a day off of the People's Committee inside its share moves it); form 01, issued by the centre,
    prints exactly the dossier's due date."""
    cals = calendars(app)
    start = clock.now()
    # Where the Committee's share falls on the plan: put its day off there.
    committee_day = cals[DEPARTMENT].add_working_minutes(start, 170 * 60).date()
    day_off(app, clock, PPC, committee_day)
    cals = calendars(app)
    assert not cals[PPC].is_working_day(committee_day) and cals[DEPARTMENT].is_working_day(committee_day)

    dossier = receive_at_centre(client, login)
    plan = [(DEPARTMENT, 144), (DEPARTMENT, 8), (DEPARTMENT, 8), (PPC, 28), (PPC, 8), (CENTRE, 4)]
    assert len(plan) == PROCEDURE_STEPS
    expected = cals[DEPARTMENT].next_working_moment(start)
    for code, hours in plan:
        expected = cals[code].add_working_minutes(expected, hours * 60)
    due = datetime.fromisoformat(dossier["due_at"])
    assert due == expected
    assert due > cals[DEPARTMENT].add_working_minutes(start, 200 * 60)  # one working day later than before

    receipt = page(client, login("ttpv_motcua"), dossier["code"], "receipt")
    text = text_of(receipt)
    assert "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG" in text.upper() and "Bộ phận Một cửa" in text
    assert f"Thời gian trả kết quả giải quyết hồ sơ: {vn_moment(due)}" in text
    # The explanation of the appointment gives the same moment.
    explained = client.get(f"/api/v1/dossiers/{dossier['code']}/deadline", headers=login("ttpv_motcua")).json()
    assert datetime.fromisoformat(explained["due_at"]) == due and "liên thông" in explained["rule"]


def test_the_scan_places_the_committees_step_on_the_committees_calendar(client, login, clock, app):
    """Gap 1: the Committee's step is "due soon" two working hours ahead on its own calendar: with its
    day off just before the step's deadline, that is the working day before the day off, when the
    Department (working that day) would still be a day away. Its apology draft is the Committee's."""
    settings = app.state.settings
    day = date(2026, 12, 4)  # a Friday: a working day for the Department
    day_off(app, clock, PPC, day)
    cals = calendars(app)
    ppc = cals[PPC]
    # The Committee's step (28 working hours) is due one working hour into the day after its day off.
    target = ppc.add_working_minutes(ppc.next_working_moment(datetime.combine(day + timedelta(days=1), time.min,
                                                                               tzinfo=ppc.tz)), 60)
    handed_over = ppc.subtract_working_minutes(target, 28 * 60)
    dossier = to_the_committee(client, login, clock, receive_at_centre(client, login), at=handed_over)
    assert datetime.fromisoformat(dossier["step_due_at"]) == target

    soon_here = ppc.subtract_working_minutes(target, settings.step_due_soon_window_minutes)
    soon_there = cals[DEPARTMENT].subtract_working_minutes(target, settings.step_due_soon_window_minutes)
    assert soon_here < soon_there and soon_here.date() < day <= soon_there.date()
    clock.set(soon_here + timedelta(minutes=1))
    scan(app, clock)
    told = {(kind, user) for code, kind, _, user in alerts(app) if code == dossier["code"]}
    assert ("step_due_soon", "ubnd_chuyenvien") in told, told

    # The Committee's step overruns: the apology drafted is the Committee's, its new appointment
    # counted on the calendars of the steps still ahead (the Committee's, then the centre's).
    clock.set(target + timedelta(hours=1))
    draft = client.post(f"/api/v1/dossiers/{dossier['code']}/apologies", json={}, headers=login("ubnd_chutich"))
    assert draft.status_code == 201, draft.text
    assert draft.json()["agency_code"] == PPC
    proposed = datetime.fromisoformat(draft.json()["proposed_due_at"])
    after_steps = cals[CENTRE].add_working_minutes(ppc.add_working_minutes(clock.now(), 8 * 60), 4 * 60)
    assert proposed >= after_steps and cals[CENTRE].subtract_working_minutes(proposed, 0) == proposed
    issued = client.post(f"/api/v1/apologies/{draft.json()['id']}/issue", json={"reason": "Chờ họp UBND tỉnh"},
                         headers=login("ubnd_chutich"))
    assert issued.status_code == 200, issued.text
    # Form 04 is headed by the Committee, not the competent Department.
    letter = text_of(page(client, login("ubnd_chutich"), dossier["code"], "apology"))
    assert "ỦY BAN NHÂN DÂN TỈNH" in letter.upper() and "Sở Giáo dục và Đào tạo (đơn vị mẫu) xin lỗi" not in letter


def test_only_the_receiving_points_desk_returns_the_result(client, login, clock, app):
    """Gap 5: the result of 1.005015 returns through the receiving point (`result_via`): the
    Department's desk, which sees the dossier throughout, may not return it (409, in Vietnamese)."""
    dossier = to_the_committee(client, login, clock, receive_at_centre(client, login))
    dossier = act(client, login("ubnd_chuyenvien"), dossier, "forward", assignee="ubnd_chutich")
    dossier = act(client, login("ubnd_chutich"), dossier, "forward", result_reference="16/QĐ-UBND")
    dossier = accept(client, login("ttpv_motcua"), dossier)
    dossier = act(client, login("ttpv_motcua"), dossier, "resolve")
    assert dossier["status"] == "resolved"
    department = get(client, login("motcua"), dossier).json()
    assert "return_result" not in department["allowed_actions"]
    refused = client.post(f"/api/v1/dossiers/{dossier['code']}/actions/return_result",
                          json={"version": dossier["version"], "method": "desk", "receiver_name": "Nguyễn Văn An"},
                          headers=login("motcua"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "result_returned_elsewhere"
    assert "Trung tâm Phục vụ hành chính công" in refused.json()["message"]
    centre = get(client, login("ttpv_motcua"), dossier).json()
    assert "return_result" in centre["allowed_actions"]
    returned = act(client, login("ttpv_motcua"), centre, "return_result", method="desk",
                   receiver_name="Nguyễn Văn An")
    assert returned["status"] == "returned"


def test_a_day_off_of_the_committee_announced_later_moves_the_appointment_later_only(client, login, clock, app):
    """A calendar change of an agency that decides the procedure recomputes its open dossiers: the
    Committee's day off inside its share moves the appointment one working day later (told as a
    `deadline_moved` event); taking the day off back never moves it earlier."""
    from app.auth.principal import principal_for
    from app.sla import service as sla

    dossier = receive_at_centre(client, login)
    first = datetime.fromisoformat(dossier["due_at"])
    cals = calendars(app)
    committee_day = cals[DEPARTMENT].add_working_minutes(clock.now(), 170 * 60).date()
    with transaction(app.state.sessionmaker) as s:
        ppc_id = s.exec(select(Agency.id).where(Agency.code == PPC)).one()
        override, moved = sla.add_override(s, agency_id=ppc_id, day=committee_day, is_working=False,
                                           reason="Nghỉ bù (UBND tỉnh)", principal=principal_for(s, "admin"),
                                           now=clock.now(), settings=app.state.settings)
        override_id = override.id
    assert [d.code for d in moved] == [dossier["code"]]
    later = datetime.fromisoformat(get(client, login("ttpv_motcua"), dossier).json()["due_at"])
    assert later > first and calendars(app)[CENTRE].working_minutes_between(first, later) > 0
    events = client.get(f"/api/v1/dossiers/{dossier['code']}/events", headers=login("ttpv_motcua")).json()
    assert any(e["action"] == "deadline_moved" for e in events)
    with transaction(app.state.sessionmaker) as s:
        moved = sla.remove_override(s, agency_id=ppc_id, override_id=override_id, principal=principal_for(s, "admin"),
                                    now=clock.now(), settings=app.state.settings)
    assert moved == []
    assert datetime.fromisoformat(get(client, login("ttpv_motcua"), dossier).json()["due_at"]) == later
