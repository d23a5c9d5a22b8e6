"""Operators' command line: `motcua --help`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.settings import get_settings

app = typer.Typer(help="motcua — Bộ phận Một cửa: lệnh vận hành.", no_args_is_help=True, add_completion=False)


def _factory():  # noqa: ANN202
    from app.db import make_engine, make_sessionmaker

    settings = get_settings()
    engine = make_engine(settings)
    return settings, engine, make_sessionmaker(engine)


def _fail(exc: Exception) -> None:
    from app.errors import DomainError

    if isinstance(exc, DomainError):
        typer.secho(f"Lỗi [{exc.code}]: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)
    raise exc


@app.command()
def migrate(revision: str = "head") -> None:
    """Nâng cấp lược đồ cơ sở dữ liệu (Alembic) lên phiên bản mới nhất."""
    from app.migrations import upgrade

    _, engine, _ = _factory()
    upgrade(engine, revision)
    typer.echo(f"Đã nâng cấp cơ sở dữ liệu lên {revision}.")


@app.command("seed-demo")
def seed_demo() -> None:
    """Tạo dữ liệu mẫu: Sở GD&ĐT, các phòng, người dùng mỗi vai trò và danh mục thủ tục (chạy lại không trùng)."""
    from app.catalog.demo import seed_demo as run
    from app.clock import SystemClock
    from app.db import transaction

    settings, _, factory = _factory()
    with transaction(factory) as session:
        counts = run(session, settings=settings, now=SystemClock().now())
    typer.echo("Dữ liệu mẫu: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@app.command("create-agency")
def create_agency(
    code: Annotated[str, typer.Option(help="Mã định danh điện tử, ví dụ 000.00.17.H26")],
    name: Annotated[str, typer.Option(help="Tên cơ quan")],
    parent: Annotated[str | None, typer.Option(help="Mã cơ quan cha (với phòng chuyên môn)")] = None,
    division: Annotated[bool, typer.Option(help="Là phòng chuyên môn thuộc cơ quan cha")] = False,
    working_hours: Annotated[str | None, typer.Option(help="Giờ làm việc, ví dụ 07:30-11:30,13:00-17:00")] = None,
) -> None:
    """Tạo cơ quan hoặc phòng chuyên môn."""
    from app.auth.service import create_agency as run
    from app.clock import SystemClock
    from app.db import transaction

    _, _, factory = _factory()
    try:
        with transaction(factory) as session:
            agency = run(session, code=code, name=name, parent_code=parent, is_division=division,
                         working_hours=working_hours, now=SystemClock().now())
            typer.echo(f"Đã tạo cơ quan {agency.code} — {agency.name}.")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    full_name: Annotated[str, typer.Option()],
    agency_code: Annotated[str, typer.Option()],
    role: Annotated[list[str], typer.Option(help="admin, desk, specialist, leader, reporter, postal (lặp lại được)")],
    title: Annotated[str | None, typer.Option(help="Chức danh")] = None,
) -> None:
    """Tạo tài khoản người dùng."""
    from app.auth.service import create_user as run
    from app.clock import SystemClock
    from app.db import transaction

    settings, _, factory = _factory()
    try:
        with transaction(factory) as session:
            user = run(session, username=username, password=password, full_name=full_name,
                       agency_code=agency_code, roles=role, title=title, settings=settings, now=SystemClock().now())
            typer.echo(f"Đã tạo tài khoản {user.username} ({', '.join(user.roles)}).")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Số tiến trình API")] = 1,
) -> None:
    """Chạy API (uvicorn) với cấu hình từ biến môi trường MOTCUA_*."""
    import uvicorn

    get_settings()  # fail fast on bad settings
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, access_log=False, log_config=None)


if __name__ == "__main__":
    app()
