"""The ``opendata`` console script: Flask's CLI bound to ``create_app``.

``opendata db upgrade`` comes from Flask-Migrate; the portal's own commands are in
``commands.py``. Run ``opendata --help`` for the list.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from opendata import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False,
             help="Quản trị Cổng dữ liệu mở Lâm Đồng (administer the open data portal).")
def main() -> None:
    pass
