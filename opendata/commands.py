"""The portal's own commands, added to Flask's CLI by ``create_app`` (see ``cli.py``).

    opendata samples load [PATH]
    opendata vocabularies sync
    opendata user create NAME --email E --password P [--sysadmin]
    opendata user invite EMAIL AGENCY admin|editor|member
    opendata member add AGENCY USER --role admin|editor|member
    opendata token create USER [--name N]
    opendata search reindex | check [--repair]
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from opendata import tasks
from opendata.datastore import ingest
from opendata.privacy import gate
from opendata.accounts import services as accounts
from opendata.catalog import samples, services as catalog
from opendata.errors import AppError
from opendata.search import sync as search_sync


def _fail(error: AppError) -> None:
    details = "; ".join(f"{name}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
                        for name, messages in error.fields.items())
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


@click.group(name="samples", help="Dữ liệu mẫu của tỉnh (the province's sample datasets).")
def samples_group() -> None:
    pass


@samples_group.command(name="load")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def samples_load(path: Path | None) -> None:
    """Load the sample datasets from PATH (default: the repository's datasets/). Idempotent."""
    try:
        report = samples.load_samples(accounts.system_actor(), path or samples.DEFAULT_PATH)
    except AppError as error:
        _fail(error)
    click.echo(f"agencies created: {len(report.agencies_created)}; datasets created: "
               f"{len(report.datasets_created)}; already present: {len(report.datasets_skipped)}")


@click.group(name="vocabularies", help="Chủ đề và giấy phép (themes and licences).")
def vocabularies_group() -> None:
    pass


@vocabularies_group.command(name="sync")
@with_appcontext
def vocabularies_sync() -> None:
    """Write the themes and licences of vocabularies.yaml into the database."""
    catalog.sync_vocabularies()
    click.echo("vocabularies synchronised")


@click.group(name="user", help="Tài khoản người dùng (user accounts).")
def user_group() -> None:
    pass


@user_group.command(name="create")
@click.argument("name")
@click.option("--email", required=True, help="E-mail address.")
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--fullname", default=None, help="Full name shown in pages.")
@click.option("--sysadmin", is_flag=True, help="Give the user every permission.")
@with_appcontext
def user_create(name: str, email: str, password: str, fullname: str | None, sysadmin: bool) -> None:
    """Create the user NAME."""
    try:
        user = accounts.create_user(accounts.system_actor(), {
            "name": name, "email": email, "password": password, "fullname": fullname, "is_sysadmin": sysadmin})
    except AppError as error:
        _fail(error)
    click.echo(f"user {user.name} created{' (sysadmin)' if user.is_sysadmin else ''}")


@user_group.command(name="invite")
@click.argument("email")
@click.argument("agency")
@click.argument("role", type=click.Choice(["admin", "editor", "member"]))
@with_appcontext
def user_invite(email: str, agency: str, role: str) -> None:
    """Invite EMAIL into AGENCY (its URL name) with ROLE; the link is e-mailed and printed last."""
    try:
        _, secret = accounts.invite(accounts.system_actor(), catalog.get_agency(agency), email, role)
    except AppError as error:
        _fail(error)
    click.echo(f"invitation sent to {email.strip().lower()} (valid {current_app.config['INVITATION_DAYS']} days):")
    click.echo(accounts.invitation_link(secret))


@click.group(name="member", help="Thành viên của cơ quan (agency members).")
def member_group() -> None:
    pass


@member_group.command(name="add")
@click.argument("agency")
@click.argument("user")
@click.option("--role", required=True, type=click.Choice(["admin", "editor", "member"]))
@with_appcontext
def member_add(agency: str, user: str, role: str) -> None:
    """Give USER the ROLE in AGENCY (the agency's URL name), or change it."""
    try:
        membership = accounts.add_member(accounts.system_actor(), catalog.get_agency(agency),
                                         accounts.get_user(user), role)
    except AppError as error:
        _fail(error)
    click.echo(f"{user} is now {membership.role} of {agency}")


@click.group(name="token", help="Khóa API (API tokens).")
def token_group() -> None:
    pass


@token_group.command(name="create")
@click.argument("user")
@click.option("--name", default="cli", help="A label for the token.")
@with_appcontext
def token_create(user: str, name: str) -> None:
    """Create an API token for USER and print it on the last line (shown only once)."""
    try:
        _, secret = accounts.create_token(accounts.system_actor(), accounts.get_user(user), name)
    except AppError as error:
        _fail(error)
    click.echo("API token (store it now; it cannot be shown again):")
    click.echo(secret)


@click.group(name="search", help="Chỉ mục tìm kiếm (the search index).")
def search_group() -> None:
    pass


@search_group.command(name="reindex")
@with_appcontext
def search_reindex() -> None:
    """Rebuild the search index from the database; searches use the old index until it is done."""
    with click.progressbar(length=search_sync.indexable_count(), label="Đang lập chỉ mục") as bar:
        count = search_sync.reindex(progress=bar.update)
    click.echo(f"{count} datasets indexed")


@search_group.command(name="check")
@click.option("--repair", is_flag=True, help="Fix what differs.")
@with_appcontext
def search_check(repair: bool) -> None:
    """Compare the index with the database: missing, stale and extra entries."""
    drift = search_sync.check(repair=repair)
    click.echo(f"missing: {len(drift.missing)}; stale: {len(drift.stale)}; extra: {len(drift.extra)}"
               + ("; repaired" if repair and drift.total else ""))
    if drift.total and not repair:
        raise SystemExit(1)


@click.group(name="privacy", help="Quét dữ liệu cá nhân (the personal-data gate).")
def privacy_group() -> None:
    pass


@privacy_group.command(name="rescan")
@click.option("--stuck-minutes", default=30, show_default=True,
              help="Scan again a file waiting or running for longer than this (its job was lost).")
@with_appcontext
def privacy_rescan(stuck_minutes: int) -> None:
    """Scan every uploaded table whose scan is missing (files from before an upgrade), outdated or stuck."""
    count = gate.rescan(timedelta(minutes=stuck_minutes))
    click.echo(f"{count} files queued or scanned")


@click.group(name="datastore", help="Kho dữ liệu: các bảng được nạp từ tệp CSV, TSV, XLSX, JSON (the datastore).")
def datastore_group() -> None:
    pass


@datastore_group.command(name="reload")
@click.option("--stuck-minutes", default=30, show_default=True,
              help="Load again a table waiting or loading for longer than this (its job was lost).")
@with_appcontext
def datastore_reload(stuck_minutes: int) -> None:
    """Queue the load of every tabular upload without a current table (files from before an upgrade, lost jobs)."""
    count = ingest.reload_stale(timedelta(minutes=stuck_minutes))
    click.echo(f"{count} tables queued")


@datastore_group.command(name="sweep")
@with_appcontext
def datastore_sweep() -> None:
    """Drop the datastore tables no resource uses any more (left by a crash, or busy when replaced)."""
    dropped = ingest.sweep()
    click.echo(f"{len(dropped)} tables dropped")


@datastore_group.command(name="load")
@click.argument("resource_id")
@with_appcontext
def datastore_load(resource_id: str) -> None:
    """Load one resource's file into its table now, in this process, and print the outcome."""
    try:
        table = ingest.load_table(resource_id)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if table is None:
        raise click.ClickException("The resource was deleted during the load.")
    report = table.report or {}
    if table.status != "done":
        raise click.ClickException((report.get("error") or {}).get("message") or table.status)
    stats = report.get("stats", {})
    click.echo(f"{table.rows} rows, {len(table.fields)} columns, {stats.get('errors', 0)} cell errors, "
               f"{stats.get('seconds')} s (+{stats.get('seconds_indexes')} s indexes)")


@click.command(name="worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at once (threads).")
@with_appcontext
def worker(workers: int) -> None:
    """Run background jobs (personal-data scans of large files, table loads) until stopped."""
    app = current_app._get_current_object()
    if app.config["TASK_QUEUE"] == "immediate":
        raise click.UsageError("TASK_QUEUE=immediate runs jobs in the request; there is no queue to work on.")
    tasks.run_worker(app, workers=workers)


def register_commands(app: Flask) -> None:
    for group in (samples_group, vocabularies_group, user_group, member_group, token_group, search_group,
                  privacy_group, datastore_group):
        app.cli.add_command(group)
    app.cli.add_command(worker)
