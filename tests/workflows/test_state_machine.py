"""Random action sequences through the workflow service (hypothesis stateful testing).

Invariants after every step: a move succeeds exactly when the transition table (and the step
rules) allow it for that caller; the timeline is the history (one event per version, the last
event's status is the dossier's); a running clock's due date is the calendar's answer for its
start, its limit and its closed pauses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import select

from app.access import get_dossier
from app.effects import Context
from app.errors import DomainError, NotPermitted
from app.models import ClockState, Dossier, DossierEvent, Procedure
from app.sla import service as sla
from app.sla.deadlines import compute_due_at
from app.workflows import actions, intake, rules
from app.workflows.schemas import ActionIn, IntakeIn
from app.workflows.transitions import Action
from tests.workflows.test_concurrency import principal
from tests.workflows.test_scenarios import PROCEDURE, intake_body

USERS = ["motcua", "chuyenvien", "truongphong", "giamdoc", "buudien"]
PROGRESS = {"accept", "forward", "resolve", "return_result", "supplement_received", "payment_confirmed"}
PAYLOADS = {
    Action.refuse: {"reason": "Không đủ điều kiện"},
    Action.send_back: {"reason": "Cần xem lại"},
    Action.request_supplement: {"items": ["Bản sao học bạ"]},
    Action.withdraw: {"reason": "Người nộp xin rút"},
    Action.stop: {"reason": "Dừng theo quy định"},
    Action.resolve: {"result_reference": "01/QĐ"},
    Action.return_result: {"method": "desk", "receiver_name": "Người nhận"},
    Action.request_payment: {"fee": 20000},
}


@pytest.fixture
def machine_env(app, client, login, clock):
    desk = login("motcua")
    procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=desk).json()
    return app, clock, [{"name": d["name"]} for d in procedure["required_documents"]]


def test_random_action_sequences(machine_env):
    app, clock, documents = machine_env
    factory, cfg = app.state.sessionmaker, app.state.settings
    reached: set[str] = set()

    # A fixed seed: `derandomize` alone seeds from this class's source text, so renaming a call in it
    # changed which paths the 8 runs explored (and whether they reached `resolve`).
    @seed(2)
    class DossierMachine(RuleBasedStateMachine):
        @initialize()
        def receive(self) -> None:
            with factory() as session:
                ctx = Context(principal(session, "motcua"), clock.now(), cfg)
                dossier, _ = intake.receive(session, IntakeIn.model_validate(intake_body(documents=documents)), ctx)
                session.commit()
                self.code = dossier.code

        @rule(hours=st.integers(min_value=0, max_value=30))
        def time_passes(self, hours: int) -> None:
            clock.advance(timedelta(hours=hours))

        @rule(action=st.sampled_from(list(Action)), username=st.sampled_from(USERS))
        def try_action(self, action: Action, username: str) -> None:
            with factory() as session:
                who = principal(session, username)
                dossier = get_dossier(session, self.code, who)
                procedure = session.get(Procedure, dossier.procedure_id)
                expected_ok = action.value in rules.allowed_actions(dossier, procedure, who, cfg)
                version = dossier.version
                ctx = Context(who, clock.now(), cfg)
                try:
                    actions.act(session, self.code, action.value, ActionIn(**PAYLOADS.get(action, {})), ctx, version)
                    session.commit()
                    succeeded = True
                    reached.add(action.value)
                except NotPermitted:
                    session.rollback()
                    succeeded = False
                except DomainError as exc:
                    session.rollback()
                    succeeded = False
                    assert exc.status_code in (409, 422), exc.code
                assert succeeded == expected_ok, (action, username, dossier.status)

        @rule(data=st.data())
        def take_an_allowed_action(self, data) -> None:
            """Steer towards deep paths: one of the moves some user may make now."""
            moves = []
            with factory() as session:
                for username in USERS:
                    who = principal(session, username)
                    dossier = get_dossier(session, self.code, who)
                    procedure = session.get(Procedure, dossier.procedure_id)
                    moves += [(a, username) for a in rules.allowed_actions(dossier, procedure, who, cfg)]
            forward_moves = [m for m in moves if m[0] in PROGRESS]
            if forward_moves and data.draw(st.integers(0, 3)) > 0:  # mostly move the dossier on
                moves = forward_moves
            if moves:
                action, username = data.draw(st.sampled_from(sorted(moves)))
                self.try_action(Action(action), username)

        @invariant()
        def timeline_is_history(self) -> None:
            if not hasattr(self, "code"):
                return
            with factory() as session:
                dossier = session.exec(select(Dossier).where(Dossier.code == self.code)).one()
                events = session.exec(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)
                                      .order_by(DossierEvent.seq)).all()
                assert [e.seq for e in events] == list(range(1, dossier.version + 1))
                assert events[-1].to_status == dossier.status
                for before, after in zip(events, events[1:]):
                    assert after.from_status == before.to_status

        @invariant()
        def due_date_follows_the_calendar(self) -> None:
            if not hasattr(self, "code"):
                return
            with factory() as session:
                dossier = session.exec(select(Dossier).where(Dossier.code == self.code)).one()
                if dossier.clock_state != ClockState.running:
                    return
                cal = sla.calendar_for(session, dossier.agency_id, cfg)
                pauses = [p for p in sla._closed_pauses_since_start(session, dossier)]
                expected = compute_due_at(cal, clock_started_at=dossier.clock_started_at,
                                          limit_minutes=dossier.limit_minutes, pauses=pauses)
                assert dossier.due_at == expected
                assert cal.is_working_day(dossier.due_at.astimezone(cal.tz).date())

    DossierMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=16, derandomize=True, deadline=None,
                                                suppress_health_check=list(HealthCheck))
    DossierMachine.TestCase().runTest()
    # The run explored real paths, not just refusals at the door.
    assert {"forward", "resolve", "request_supplement"} <= reached, reached
