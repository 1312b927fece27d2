"""Documentation promises: every configuration key is in the README, which starts with the two commands."""

from pathlib import Path

from opendata.config import ENV_PREFIX, SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [setting.key for setting in SETTINGS if f"{ENV_PREFIX}{setting.key}" not in README]
    assert missing == []


def test_readme_starts_with_the_two_commands():
    head = README[:1500]
    assert "make serve" in head and "make test" in head
