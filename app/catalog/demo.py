"""Demo data: one Department of Education and Training, its divisions, one user per role and the
catalogue of real procedures in demo_catalogue.json. Idempotent: running it again only creates what
is missing, so an admin's edits to the demo catalogue (or to a demo agency or user) survive a second
`make run`."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources

from sqlmodel import Session, select

from app.auth.service import create_agency, create_user
from app.catalog.schemas import ProcedureIn
from app.catalog.service import upsert_procedure
from app.models import Agency, Procedure, User
from app.settings import Settings

DEMO_AGENCY_CODE = "000.00.17.H26"
DEMO_AGENCY_NAME = "Sở Giáo dục và Đào tạo (đơn vị mẫu)"
DEMO_PASSWORD = "demo1234"
DIVISIONS = {
    "VP": "Văn phòng Sở (Bộ phận Một cửa)",
    "GDPT": "Phòng Giáo dục phổ thông",
    "GDMN": "Phòng Giáo dục Mầm non và Tiểu học",
    "QLCL": "Phòng Khảo thí và Quản lý chất lượng giáo dục",
    "TCCB": "Phòng Tổ chức cán bộ",
    "KHTC": "Phòng Kế hoạch - Tài chính",
    "GDTX": "Phòng Giáo dục chuyên nghiệp và Giáo dục thường xuyên",
}
# username, full name, title, division (None: the Department itself), roles
DEMO_USERS = [
    ("admin", "Quản trị hệ thống", "Quản trị viên", "VP", ["admin"]),
    ("motcua", "Nguyễn Thị Lan", "Cán bộ Bộ phận Một cửa", "VP", ["desk"]),
    ("chuyenvien", "Trần Văn Minh", "Chuyên viên", "QLCL", ["specialist"]),
    ("truongphong", "Lê Thị Hoa", "Trưởng phòng", "QLCL", ["leader"]),
    ("giamdoc", "Phạm Quốc Hùng", "Phó Giám đốc Sở", None, ["leader"]),
    ("baocao", "Hoàng Thu Trang", "Chuyên viên Văn phòng", "VP", ["reporter"]),
    ("buudien", "Đỗ Văn Bình", "Nhân viên Bưu điện", None, ["postal"]),
]


# The province around the Department (issue 14): the provincial Public Administration Service Centre
# (receiving point, Decree 118/2025), the Provincial People's Committee (deciding authority), and one
# more department; code, name, kind, head title, working hours (None: the default), document symbol.
PROVINCE_AGENCIES = [
    ("000.00.01.H26", "Trung tâm Phục vụ hành chính công tỉnh (đơn vị mẫu)", "centre", "Giám đốc",
     "07:00-11:30,13:30-17:00", "TTPVHCC"),
    ("000.00.00.H26", "Ủy ban nhân dân tỉnh (đơn vị mẫu)", "people_committee", "Chủ tịch", None, "UBND"),
    ("000.00.10.H26", "Sở Nội vụ (đơn vị mẫu)", "department", "Giám đốc", None, "SNV"),
]
PROVINCE_USERS = [
    ("ttpv_motcua", "Vũ Thị Mai", "Công chức Trung tâm Phục vụ hành chính công", "000.00.01.H26", ["desk"]),
    ("ttpv_lanhdao", "Ngô Văn Tâm", "Phó Giám đốc Trung tâm", "000.00.01.H26", ["leader"]),
    ("ttpv_baocao", "Đinh Thu Hà", "Chuyên viên tổng hợp", "000.00.01.H26", ["reporter"]),
    ("ubnd_vanthu", "Bùi Thị Nga", "Văn thư Văn phòng UBND tỉnh", "000.00.00.H26", ["desk"]),
    ("ubnd_chuyenvien", "Lý Văn Khoa", "Chuyên viên Văn phòng UBND tỉnh", "000.00.00.H26", ["specialist"]),
    ("ubnd_chutich", "Trịnh Minh Đức", "Phó Chủ tịch UBND tỉnh", "000.00.00.H26", ["leader"]),
    ("ubnd_baocao", "Mạc Thị Yến", "Chuyên viên tổng hợp Văn phòng UBND tỉnh", "000.00.00.H26", ["reporter"]),
    ("snv_motcua", "Tạ Văn Long", "Cán bộ Bộ phận Một cửa Sở Nội vụ", "000.00.10.H26", ["desk"]),
    ("gdpt_chuyenvien", "Cao Thị Thảo", "Chuyên viên", f"{DEMO_AGENCY_CODE}.GDPT", ["specialist"]),
    ("gdpt_truongphong", "Hà Văn Sơn", "Trưởng phòng", f"{DEMO_AGENCY_CODE}.GDPT", ["leader"]),
]


def demo_interagency() -> list[ProcedureIn]:
    """Inter-agency procedures: received at the centre (or the Department's desk), appraised by the
    Department, decided by the Chairman of the Provincial People's Committee, returned by the centre."""
    raw = resources.files("app.catalog").joinpath("demo_interagency.json").read_text(encoding="utf-8")
    return [ProcedureIn.model_validate(item) for item in json.loads(raw)]


def demo_catalogue() -> list[ProcedureIn]:
    raw = resources.files("app.catalog").joinpath("demo_catalogue.json").read_text(encoding="utf-8")
    return [ProcedureIn.model_validate(item) for item in json.loads(raw)]


def seed_demo(session: Session, *, settings: Settings, now: datetime) -> dict[str, int]:
    counts = {"agencies": 0, "users": 0, "procedures_created": 0}
    department = session.exec(select(Agency).where(Agency.code == DEMO_AGENCY_CODE)).first()
    if department is None:
        department = create_agency(session, code=DEMO_AGENCY_CODE, name=DEMO_AGENCY_NAME, now=now,
                                   address="Số 1 đường Mẫu, thành phố Mẫu", phone="0209 3870 000")
        counts["agencies"] += 1
    for short, name in DIVISIONS.items():
        code = f"{DEMO_AGENCY_CODE}.{short}"
        if session.exec(select(Agency).where(Agency.code == code)).first() is None:
            create_agency(session, code=code, name=name, parent_code=DEMO_AGENCY_CODE, is_division=True, now=now,
                          head_title="Trưởng phòng")
            counts["agencies"] += 1
    for username, full_name, title, division, roles in DEMO_USERS:
        if session.exec(select(User).where(User.username == username)).first() is None:
            agency_code = f"{DEMO_AGENCY_CODE}.{division}" if division else DEMO_AGENCY_CODE
            create_user(session, username=username, password=DEMO_PASSWORD, full_name=full_name, title=title,
                        agency_code=agency_code, roles=roles, settings=settings, now=now)
            counts["users"] += 1
    for code, name, kind, head_title, hours, symbol in PROVINCE_AGENCIES:
        if session.exec(select(Agency).where(Agency.code == code)).first() is None:
            agency = create_agency(session, code=code, name=name, now=now, kind=kind, head_title=head_title,
                                   working_hours=hours)
            agency.short_name = symbol
            session.add(agency)
            counts["agencies"] += 1
    for username, full_name, title, agency_code, roles in PROVINCE_USERS:
        if session.exec(select(User).where(User.username == username)).first() is None:
            create_user(session, username=username, password=DEMO_PASSWORD, full_name=full_name, title=title,
                        agency_code=agency_code, roles=roles, settings=settings, now=now)
            counts["users"] += 1
    assert department.id is not None
    existing = set(session.exec(select(Procedure.code)).all())
    for item in demo_catalogue() + demo_interagency():
        if item.code not in existing:  # never overwrite a procedure an admin may have edited
            upsert_procedure(session, item, scope_agency_id=department.id, now=now, create_only=True)
            counts["procedures_created"] += 1
    return counts
