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

    from app.catalog.demo_dossiers import DEMO_SECRET, seed_demo_dossiers

    settings, _, factory = _factory()
    if settings.env != "dev":  # demo users share one published password
        typer.secho(f"seed-demo chỉ chạy khi MOTCUA_ENV=dev (hiện là {settings.env}): dữ liệu mẫu có tài khoản "
                    "dùng chung mật khẩu công khai.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    now = SystemClock().now()
    with transaction(factory) as session:
        counts = run(session, settings=settings, now=now)
    # The demo certificate first: the demo dossiers' results are then signed with it.
    from app.esign.pki import write_demo_pki
    pki = write_demo_pki(settings.demo_pki_dir, "Sở Giáo dục và Đào tạo (đơn vị mẫu)")
    with transaction(factory) as session:
        made, code = seed_demo_dossiers(session, settings=settings, now=now)
    counts["dossiers"] = made
    typer.echo("Dữ liệu mẫu: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    typer.echo(f"Chứng thư số DEMO (không có giá trị pháp lý): {pki.pkcs12}, CA {pki.ca_pem}; "
               "MOTCUA_ENV=dev tự dùng để ký kết quả khi chưa cấu hình MOTCUA_SIGNING_PKCS12.")
    if code:
        from app.web.qr import lookup_address

        typer.echo(f"Thử tra cứu tại {lookup_address(settings)} — mã hồ sơ {code}, mã tra cứu {DEMO_SECRET}")


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


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Đặt lại mật khẩu một tài khoản; các mã đăng nhập đã cấp trước đó hết hiệu lực."""
    from app.auth.service import reset_password as run
    from app.db import transaction

    settings, _, factory = _factory()
    try:
        with transaction(factory) as session:
            run(session, username=username, new_password=password, settings=settings)
        typer.echo(f"Đã đặt lại mật khẩu cho {username}; các phiên đăng nhập cũ đã hết hiệu lực.")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)


@app.command("set-user-active")
def set_user_active(
    username: Annotated[str, typer.Option()],
    active: Annotated[bool, typer.Option("--active/--inactive", help="Mở hoặc khóa tài khoản")],
) -> None:
    """Khóa hoặc mở lại một tài khoản; các mã đăng nhập đã cấp trước đó hết hiệu lực."""
    from app.auth.service import set_active
    from app.db import transaction

    _, _, factory = _factory()
    try:
        with transaction(factory) as session:
            set_active(session, username=username, active=active)
        typer.echo(f"Đã {'mở' if active else 'khóa'} tài khoản {username}.")
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

    from app.web.ratelimit import uvicorn_proxy_options

    settings = get_settings()  # fail fast on bad settings
    refusal = settings.refuse_to_serve(host)
    if refusal:
        typer.secho(refusal, fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    if workers > 1:
        # Several workers: each writes its metrics to one directory and any of them answers a
        # scrape with the sum (prometheus_client's multiprocess mode; app/metrics.py). The workers
        # are new processes started after this, so they inherit the variable.
        import os
        import tempfile

        from app.metrics import prepare_multiprocess_dir

        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="motcua-metrics-")
        prepare_multiprocess_dir(directory)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # X-Forwarded-For is believed only from MOTCUA_TRUSTED_PROXIES (none by default), never from
    # uvicorn's own default (127.0.0.1) or its FORWARDED_ALLOW_IPS variable.
    uvicorn.run("app.asgi:app", host=host, port=port, workers=workers, access_log=False, log_config=None,
                **uvicorn_proxy_options(settings))  # type: ignore[arg-type]


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option(help="Chạy mỗi việc một lần rồi thoát (quét hạn, hạn phản ánh, gửi thông báo, tổng hợp)")] = False,
) -> None:
    """Chạy tiến trình lập lịch: quét hạn, cảnh báo, xin lỗi hẹn lại, gửi thông báo, đồng bộ Cổng DVCQG."""
    from app.sla.scheduler import run_scheduler

    settings = get_settings()
    if not once:
        run_scheduler(settings)
        return
    from app.clock import SystemClock
    from app.sla.scheduler import run_daily_digest, run_deadline_scan, run_feedback_scan, run_notify_dispatch

    _, engine, factory = _factory()
    clock = SystemClock()
    for name, job in (("deadline_scan", run_deadline_scan), ("feedback_scan", run_feedback_scan),
                      ("notify_dispatch", run_notify_dispatch), ("daily_digest", run_daily_digest)):
        result = job(factory, settings, clock)
        fields = getattr(result, "__dataclass_fields__", {})
        typer.echo(f"{name}: " + ", ".join(f"{k}={getattr(result, k)}" for k in fields))
    engine.dispose()


@app.command("mock-portal")
def mock_portal(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8001,
) -> None:
    """Chạy Cổng DVCQG giả lập (demo, kiểm thử) với tài khoản MOTCUA_PORTAL_USERNAME/PASSWORD."""
    import uvicorn

    from app.portal.mock import create_mock_portal

    settings = get_settings()
    secret = settings.mock_portal_control_token
    token = secret.get_secret_value() if secret is not None else ""
    portal = create_mock_portal(username=settings.portal_username,
                                password=settings.portal_password.get_secret_value(), control_token=token or None)
    typer.echo(f"Cổng DVCQG giả lập: http://{host}:{port}/")
    if not token:
        typer.echo("Lệnh điều khiển /_control tắt: đặt MOTCUA_MOCK_PORTAL_CONTROL_TOKEN để bật.", err=True)
    uvicorn.run(portal, host=host, port=port, access_log=False, log_config=None)


@app.command("mock-payment")
def mock_payment(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8002,
) -> None:
    """Chạy cổng thanh toán giả lập (demo, kiểm thử) cho đơn vị MOTCUA_PAYMENT_MERCHANT / MOTCUA_PAYMENT_SECRET."""
    import uvicorn

    from app.payments.mock import create_mock_platform

    settings = get_settings()
    secret = settings.mock_payment_control_token
    token = secret.get_secret_value() if secret is not None else ""
    platform = create_mock_platform(merchants={settings.payment_merchant: settings.payment_secret.get_secret_value()},
                                    control_token=token or None,
                                    tolerance_seconds=settings.payment_callback_tolerance_seconds)
    typer.echo(f"Cổng thanh toán giả lập: http://{host}:{port}/")
    if not token:
        typer.echo("Lệnh điều khiển /_control tắt: đặt MOTCUA_MOCK_PAYMENT_CONTROL_TOKEN để bật.", err=True)
    uvicorn.run(platform, host=host, port=port, access_log=False, log_config=None)


@app.command("payment-reconcile")
def payment_reconcile() -> None:
    """Đối soát một lần các giao dịch thanh toán trực tuyến còn chờ: hỏi cổng thanh toán, ghi nhận đã nộp (JSON)."""
    import json
    from dataclasses import asdict

    from app.clock import SystemClock
    from app.payments.client import PaymentPlatform
    from app.payments.online import reconcile

    settings, engine, factory = _factory()
    try:
        with PaymentPlatform.from_settings(settings) as platform:
            stats = reconcile(factory, settings, SystemClock().now(), platform=platform)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(json.dumps(asdict(stats), ensure_ascii=False, indent=2))
    if stats.unavailable:
        typer.secho(f"Cổng thanh toán không trả lời ({settings.payment_url}); đối soát dừng giữa chừng.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)


@app.command("portal-pull")
def portal_pull() -> None:
    """Lấy ngay các hồ sơ nộp trực tuyến mới từ Cổng DVCQG (một lần)."""
    from app.clock import SystemClock
    from app.portal.client import PortalUnavailable
    from app.portal.inbound import pull_submissions

    settings, engine, factory = _factory()
    try:
        created = pull_submissions(factory, settings, SystemClock().now())
    except PortalUnavailable as exc:
        typer.secho(f"Không kết nối được Cổng DVCQG ({settings.portal_url}): {exc.message}", fg=typer.colors.RED,
                    err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"Đã nhận {created} hồ sơ trực tuyến mới.")



@app.command("import-history")
def import_history(
    file: Annotated[str, typer.Argument(help="Tệp CSV (có dòng tiêu đề) hoặc JSON của hồ sơ cũ")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Chỉ kiểm tra, không ghi gì")] = False,
    agency: Annotated[str | None, typer.Option(help="Chỉ nhận dòng của cơ quan này (mã định danh)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Số hồ sơ mỗi lô ghi (cả tệp một giao dịch)")] = 500,
    source: Annotated[str | None, typer.Option(help="Nhãn đợt nhập lưu ở mỗi hồ sơ (mặc định: thời điểm và tên tệp)")
                      ] = None,
) -> None:
    """Nhập hồ sơ lịch sử từ hệ thống một cửa cũ (CSV/JSON, xem docs/REPORTS.md): cả tệp hoặc không gì cả;
    chạy lại không tạo trùng. Lệnh của quản trị hệ thống (cần quyền truy cập cơ sở dữ liệu)."""
    from pathlib import Path

    from app.auth.service import agency_by_code
    from app.clock import SystemClock
    from app.reports import history, history_rows

    path = Path(file)
    if not path.is_file():
        typer.secho(f"Không có tệp {file}.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    settings, engine, factory = _factory()
    try:
        rows = history_rows.read_rows(path.read_bytes(), filename=path.name)
        with factory() as session:
            try:
                scope = agency_by_code(session, agency).id if agency else None
                label = "Đang kiểm tra" if dry_run else "Đang nhập"
                now = SystemClock().now()
                label_source = source or history.default_source(now, settings.timezone, path.name)
                with typer.progressbar(length=len(rows), label=label) as bar:
                    result = history.import_history(session, rows, now=now, settings=settings,
                                                    scope_agency_id=scope, dry_run=dry_run, batch_size=batch_size,
                                                    source=label_source, actor_role="admin", progress=bar.update)
                session.commit()  # one transaction: the whole file, or nothing when a row failed
            except BaseException:
                session.rollback()
                raise
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    finally:
        engine.dispose()
    for error in result.errors[:50]:
        typer.echo(f"Dòng {error.row}" + (f" ({error.code})" if error.code else "") + ": " + " ".join(error.errors),
                   err=True)
    if len(result.errors) > 50:
        typer.echo(f"... và {len(result.errors) - 50} dòng lỗi khác.", err=True)
    if dry_run:
        outcome = f"sẽ tạo {result.new_rows} hồ sơ"
    elif result.imported:
        outcome = f"đã tạo {result.created} hồ sơ"
    else:
        outcome = f"không nhập hồ sơ nào (cả tệp hoặc không gì cả; đủ điều kiện {result.new_rows})"
    typer.echo(f"{'Kiểm tra' if dry_run else 'Nhập'} {result.total_rows} dòng: {outcome}, "
               f"bỏ qua {len(result.skipped_existing)} mã đã có, {len(result.errors)} dòng lỗi. "
               f"Nhãn đợt nhập: {result.source}.")
    if result.errors:
        raise typer.Exit(code=1)


@app.command("report")
def report(
    agency: Annotated[str, typer.Option(help="Mã định danh cơ quan, ví dụ 000.00.17.H26")],
    period: Annotated[str | None, typer.Option(help="Kỳ: 2026 (năm), 2026-H1, 2026-Q3 (quý), 2026-11 (tháng)")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Từ ngày YYYY-MM-DD (cùng --to)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Đến hết ngày YYYY-MM-DD")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json | csv | xlsx")] = "table",
    output: Annotated[str | None, typer.Option(help="Ghi ra tệp (bắt buộc với xlsx)")] = None,
    fill_working_time: Annotated[bool, typer.Option(
        "--fill-working-time", help="Trước đó, lưu thời gian giải quyết (giờ làm việc) cho hồ sơ còn thiếu")] = False,
    without_imported: Annotated[bool, typer.Option(
        "--without-imported", help="Không tính hồ sơ nhập từ hệ thống cũ (mặc định: có tính)")] = False,
    from_events: Annotated[bool, typer.Option(
        "--from-events", help="Tính lại báo cáo chỉ từ nhật ký sự kiện và in mọi chỉ tiêu khác với số liệu lưu "
                              "(mã thoát 1 nếu có khác biệt)")] = False,
) -> None:
    """Lập báo cáo định kỳ của một cơ quan (bảng, JSON, CSV hoặc XLSX)."""
    from datetime import date
    from pathlib import Path

    from app.auth.service import agency_by_code
    from app.clock import SystemClock
    from app.db import transaction
    from app.errors import Invalid
    from app.reports import export, history, queries
    from app.reports.periods import parse_period

    if fmt not in ("table", "json", "csv", "xlsx"):
        typer.secho("--format phải là table, json, csv hoặc xlsx.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    if fmt == "xlsx" and not output:
        typer.secho("Báo cáo XLSX cần --output TỆP.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    settings, engine, factory = _factory()
    now = SystemClock().now()
    try:
        try:
            start = date.fromisoformat(date_from) if date_from else None
            end = date.fromisoformat(date_to) if date_to else None
        except ValueError:
            raise Invalid("--from/--to phải có dạng YYYY-MM-DD.", code="invalid_period") from None
        chosen = parse_period(period, settings.timezone, from_=start, to=end)
        with transaction(factory) as session:
            agency_id = agency_by_code(session, agency).id
            if fill_working_time:
                filled = history.fill_working_minutes(session, settings=settings, agency_id=agency_id, limit=100_000)
                typer.echo(f"Đã lưu thời gian giải quyết cho {filled} hồ sơ.", err=True)
            result = queries.periodic_report(session, agency_id=agency_id, period=chosen, now=now,
                                             include_imported=not without_imported)
            differences = None
            if from_events:
                from app.foresight import fromevents

                differences = fromevents.compare(session, agency_id=agency_id, period=chosen, now=now,
                                                 settings=settings)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    finally:
        engine.dispose()
    if differences is not None:
        typer.echo(f"Báo cáo {result.period.label} tính lại từ nhật ký sự kiện: "
                   + ("trùng khớp với số liệu lưu." if not differences else f"{len(differences)} chỉ tiêu khác:"))
        for d in differences:
            typer.echo(f"  {d.procedure_code:<12} {d.field:<28} lưu {d.stored:>7}   từ sự kiện {d.from_events:>7}")
        if differences:
            raise typer.Exit(code=1)
        return
    if fmt == "xlsx":
        content = export.to_xlsx(result, generated_at=now, tz=settings.timezone)
    elif fmt == "csv":
        content = export.to_csv(result)
    elif fmt == "json":
        content = result.model_dump_json(indent=2).encode("utf-8")
    else:
        header = f"{'Mã thủ tục':<12} {'Kỳ trước':>8} {'Mới':>6} {'Đã GQ':>6} {'Trước':>6} {'Đúng':>6} {'Quá':>6} " \
                 f"{'Đang GQ':>8} {'Quá hạn':>8} {'Rút/TC':>7}"
        imported = (f"gồm {result.imported_rows} hồ sơ nhập từ hệ thống cũ" if result.include_imported
                    else "không gồm hồ sơ nhập từ hệ thống cũ")
        lines = [f"{result.agency.name} — {result.period.label} ({imported})", header]
        for code, c in [*((r.procedure_code, r) for r in result.rows), ("Tổng cộng", result.totals)]:
            lines.append(f"{code:<12} {c.carried_over:>8} {c.received_total:>6} {c.resolved_total:>6} "
                         f"{c.resolved_early:>6} {c.resolved_on_time:>6} {c.resolved_late:>6} "
                         f"{c.in_progress_total:>8} {c.in_progress_overdue:>8} {c.withdrawn_or_refused:>7}")
        content = ("\n".join(lines) + "\n").encode("utf-8")
    if output:
        Path(output).write_bytes(content)
        typer.echo(f"Đã ghi {output}.")
    else:
        typer.echo(content.decode("utf-8-sig"), nl=False)


@app.command("portal-reconcile")
def portal_reconcile(
    hours: Annotated[int | None, typer.Option(min=1, max=24 * 90,
                                              help="Đối soát hồ sơ thay đổi trong N giờ qua (mặc định theo cấu hình)")] = None,
) -> None:
    """Đối soát một lần với Cổng DVCQG: đọc lại hồ sơ vừa thay đổi, đồng bộ lại hồ sơ lệch, in báo cáo (JSON)."""
    import json

    from app.clock import SystemClock
    from app.portal.reconcile import reconcile_portal

    settings, engine, factory = _factory()
    try:
        report = reconcile_portal(factory, settings, SystemClock().now(), window_hours=hours)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(json.dumps({**report.summary(), "drift": report.drift}, ensure_ascii=False, indent=2))
    if report.unavailable:
        typer.secho(f"Cổng DVCQG không trả lời ({settings.portal_url}); đối soát dừng giữa chừng.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
