"""The dossier events of a period as an event log for process mining (issue 17, docs/FORESIGHT.md):
IEEE 1849 XES (one trace per dossier) and OCEL 2.0 JSON (dossiers and procedures as objects).

Cases are pseudonymised with a keyed hash (HMAC-SHA256 of the dossier id under a key derived from
the service's data key): stable across exports of one installation, so two exports join, and not
reversible without the key. Nothing personal leaves: no dossier code, applicant, note, free text
or user; only the acting role, statuses, steps, the procedure and channel, and the outcome.

The activity of an event entering a workflow step is that step's name (what the procedure's
workflow calls it); any other event is its Vietnamese action label (app/statuses.event_label).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import and_, func, select
from sqlmodel import Session

from app.errors import Invalid, NotFound
from app.models import Dossier, DossierEvent, Procedure
from app.reports.periods import Period
from app.settings import Settings
from app.statuses import event_label

MAX_EVENTS = 1_000_000  # one export; beyond it, a shorter period
ENTER_STEP = {"forward", "send_back", "supplement_received", "accept_handover"}  # events landing on a step


@dataclass(frozen=True)
class LogEvent:
    case: str
    activity: str
    at: datetime
    action: str
    role: str | None
    from_status: str | None
    to_status: str
    step: int | None


@dataclass(frozen=True)
class LogCase:
    case: str
    procedure_code: str
    channel: str
    outcome: str | None
    events: list[LogEvent]


def pseudonymiser(settings: Settings):  # noqa: ANN201
    secret = (settings.data_key or settings.jwt_secret).get_secret_value().encode()
    key = hashlib.sha256(b"motcua/event-log/v1\x00" + secret).digest()

    def pseudonym(dossier_id: int) -> str:
        return hmac.new(key, str(dossier_id).encode(), hashlib.sha256).hexdigest()[:20]

    return pseudonym


def activity_of(action: str, to_step: int | None, workflow: list[dict[str, Any]]) -> str:
    if to_step is not None and action in ENTER_STEP and 0 <= to_step < len(workflow):
        return str(workflow[to_step].get("name") or action)
    return event_label(action) or action


def load_log(session: Session, *, agency_id: int, period: Period, settings: Settings,
             procedure_code: str | None = None) -> list[LogCase]:
    """Every event of the agency's dossiers created in the period (whole traces, also the events
    after the period), in order."""
    where = [Dossier.agency_id == agency_id, Dossier.created_at >= period.start, Dossier.created_at < period.end]
    if procedure_code:
        procedure = session.execute(select(Procedure.id).where(Procedure.code == procedure_code,
                                                               Procedure.agency_id == agency_id)).first()
        if procedure is None:
            raise NotFound(f"Không có thủ tục hành chính mã {procedure_code} của cơ quan.",
                           code="procedure_not_found")
        where.append(Dossier.procedure_id == procedure[0])
    conn = session.connection()
    count = conn.execute(select(func.count()).select_from(DossierEvent).join(Dossier, Dossier.id == DossierEvent.dossier_id)
                         .where(and_(*where))).scalar_one()
    if count > MAX_EVENTS:
        raise Invalid(f"Kỳ đã chọn có {count} sự kiện, vượt giới hạn {MAX_EVENTS} của một lần xuất; "
                      "hãy chọn kỳ ngắn hơn hoặc một thủ tục.", code="event_log_too_large")
    procedures = {p.id: p for p in session.execute(select(Procedure).where(Procedure.agency_id == agency_id)).scalars()}
    pseudonym = pseudonymiser(settings)
    rows = conn.execute(select(DossierEvent.dossier_id, DossierEvent.at, DossierEvent.action, DossierEvent.actor_role,
                               DossierEvent.from_status, DossierEvent.to_status, DossierEvent.to_step,
                               Dossier.procedure_id, Dossier.channel, Dossier.outcome)
                        .join(Dossier, Dossier.id == DossierEvent.dossier_id).where(and_(*where))
                        .order_by(DossierEvent.dossier_id, DossierEvent.seq))
    cases: list[LogCase] = []
    current: int | None = None
    for r in rows:
        procedure = procedures.get(r.procedure_id)
        if r.dossier_id != current:
            current = r.dossier_id
            cases.append(LogCase(pseudonym(r.dossier_id), procedure.code if procedure else "", r.channel or "",
                                 r.outcome, []))
        workflow = procedure.workflow if procedure else []
        cases[-1].events.append(LogEvent(cases[-1].case, activity_of(r.action, r.to_step, workflow), r.at, r.action,
                                         r.actor_role, r.from_status, r.to_status, r.to_step))
    return cases


# --- IEEE XES --------------------------------------------------------------------------------------

XES_NS = "http://www.xes-standard.org/"
EXTENSIONS = (("Concept", "concept", "concept.xesext"), ("Time", "time", "time.xesext"),
              ("Lifecycle", "lifecycle", "lifecycle.xesext"), ("Organizational", "org", "org.xesext"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _attr(parent: ET.Element, kind: str, key: str, value: Any) -> None:
    ET.SubElement(parent, kind, key=key, value=str(value))


def to_xes(cases: list[LogCase], *, name: str) -> bytes:
    log = ET.Element("log", {"xes.version": "1.0", "xes.features": "nested-attributes", "xmlns": XES_NS})
    for ext_name, prefix, uri in EXTENSIONS:
        ET.SubElement(log, "extension", name=ext_name, prefix=prefix, uri=XES_NS + uri)
    trace_global = ET.SubElement(log, "global", scope="trace")
    _attr(trace_global, "string", "concept:name", "__INVALID__")
    event_global = ET.SubElement(log, "global", scope="event")
    _attr(event_global, "string", "concept:name", "__INVALID__")
    _attr(event_global, "date", "time:timestamp", "1970-01-01T00:00:00.000Z")
    ET.SubElement(log, "classifier", name="Activity", keys="concept:name")
    _attr(log, "string", "concept:name", name)
    for case in cases:
        trace = ET.SubElement(log, "trace")
        _attr(trace, "string", "concept:name", case.case)
        _attr(trace, "string", "procedure", case.procedure_code)
        _attr(trace, "string", "channel", case.channel)
        if case.outcome:
            _attr(trace, "string", "outcome", case.outcome)
        for e in case.events:
            event = ET.SubElement(trace, "event")
            _attr(event, "string", "concept:name", e.activity)
            _attr(event, "date", "time:timestamp", _iso(e.at))
            _attr(event, "string", "lifecycle:transition", "complete")
            _attr(event, "string", "action", e.action)
            if e.role:
                _attr(event, "string", "org:role", e.role)
            if e.from_status:
                _attr(event, "string", "from_status", e.from_status)
            _attr(event, "string", "to_status", e.to_status)
            if e.step is not None:
                _attr(event, "int", "step", e.step)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(log, encoding="utf-8")


# --- OCEL 2.0 JSON ---------------------------------------------------------------------------------

EPOCH = "1970-01-01T00:00:00Z"
EVENT_ATTRIBUTES = ("action", "role", "from_status", "to_status", "step")


def to_ocel(cases: list[LogCase]) -> bytes:
    """OCEL 2.0 JSON: object types `dossier` (pseudonymised) and `procedure`; each event relates to
    its dossier and its procedure, and each dossier to its procedure."""
    event_types: set[str] = set()
    events: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    procedures: set[str] = set()
    n = 0
    for case in cases:
        dossier_id = f"dossier:{case.case}"
        procedures.add(case.procedure_code)
        attributes = [{"name": "channel", "time": EPOCH, "value": case.channel}]
        if case.outcome:
            attributes.append({"name": "outcome", "time": _iso(case.events[-1].at), "value": case.outcome})
        objects.append({"id": dossier_id, "type": "dossier", "attributes": attributes,
                        "relationships": [{"objectId": f"procedure:{case.procedure_code}", "qualifier": "thủ tục"}]})
        for e in case.events:
            n += 1
            event_types.add(e.activity)
            values = {"action": e.action, "role": e.role or "", "from_status": e.from_status or "",
                      "to_status": e.to_status, "step": "" if e.step is None else str(e.step)}
            events.append({"id": f"e{n}", "type": e.activity, "time": _iso(e.at),
                           "attributes": [{"name": k, "value": values[k]} for k in EVENT_ATTRIBUTES],
                           "relationships": [{"objectId": dossier_id, "qualifier": "hồ sơ"},
                                             {"objectId": f"procedure:{case.procedure_code}",
                                              "qualifier": "thủ tục"}]})
    objects.extend({"id": f"procedure:{code}", "type": "procedure",
                    "attributes": [{"name": "code", "time": EPOCH, "value": code}], "relationships": []}
                   for code in sorted(procedures))
    document = {
        "objectTypes": [{"name": "dossier", "attributes": [{"name": "channel", "type": "string"},
                                                          {"name": "outcome", "type": "string"}]},
                        {"name": "procedure", "attributes": [{"name": "code", "type": "string"}]}],
        "eventTypes": [{"name": t, "attributes": [{"name": k, "type": "string"} for k in EVENT_ATTRIBUTES]}
                       for t in sorted(event_types)],
        "objects": objects,
        "events": events,
    }
    return json.dumps(document, ensure_ascii=False).encode()
