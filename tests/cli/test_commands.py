from opendata.accounts.models import Membership, User
from opendata.accounts.services import user_for_token
from opendata.catalog.models import Dataset
from opendata.extensions import db
from tests.conftest import FIXTURES
from tests.factories import make_agency


def test_user_member_and_token_commands(runner, system):
    agency = make_agency(system, name="so-tai-chinh")
    result = runner.invoke(args=["user", "create", "lan", "--email", "lan@example.org", "--password", "mot-mat-khau-dai"])
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(name="lan").one().password_hash.startswith("$argon2id$")

    result = runner.invoke(args=["member", "add", "so-tai-chinh", "lan", "--role", "editor"])
    assert result.exit_code == 0, result.output
    assert db.session.query(Membership).filter_by(agency_id=agency.id).one().role == "editor"

    result = runner.invoke(args=["token", "create", "lan"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert user_for_token(token).name == "lan"


def test_commands_fail_clearly(runner, system):
    result = runner.invoke(args=["member", "add", "khong-co", "ai-do", "--role", "editor"])
    assert result.exit_code != 0 and "Không tìm thấy cơ quan" in result.output
    result = runner.invoke(args=["user", "create", "x", "--email", "sai", "--password", "ngan"])
    assert result.exit_code != 0
    assert "Địa chỉ thư điện tử không hợp lệ" in result.output and "Mật khẩu" in result.output
    result = runner.invoke(args=["member", "add", "a", "b", "--role", "owner"])
    assert result.exit_code != 0 and "owner" in result.output


def test_samples_load_is_idempotent(runner, system):
    first = runner.invoke(args=["samples", "load", str(FIXTURES / "samples")])
    assert first.exit_code == 0, first.output
    assert "datasets created: 1" in first.output
    second = runner.invoke(args=["samples", "load", str(FIXTURES / "samples")])
    assert "datasets created: 0; already present: 1" in second.output
    assert db.session.query(Dataset).count() == 1


def test_every_command_has_help(runner):
    for args in (["samples", "load"], ["user", "create"], ["member", "add"], ["token", "create"], ["db", "upgrade"]):
        result = runner.invoke(args=[*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
