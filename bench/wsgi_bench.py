"""The portal plus two ceiling endpoints, served by one gunicorn for side-by-side runs.

``/_bench/ceiling`` is the smallest Flask response (the framework's ceiling for pages);
``/_bench/sendfile`` is a bare ``send_file`` of the file named by ``BENCH_FILE`` (the
ceiling for downloads). Only the benchmark imports this module.
"""

import os

from flask import send_file

from opendata import create_app

app = create_app()


@app.get("/_bench/ceiling")
def ceiling():
    return "ok"


@app.get("/_bench/sendfile")
def bare_sendfile():
    return send_file(os.environ["BENCH_FILE"], mimetype="application/octet-stream")
