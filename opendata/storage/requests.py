"""The request class: multipart file parts are received straight into the file store.

Werkzeug would otherwise spool each part to a temporary file of its own, which the
store would then copy: two writes of every byte. ``Receiving`` hashes the part as it
arrives and becomes the stored file by a link, so a 1 GB upload is written once.
"""

from __future__ import annotations

from flask import Request, current_app

from opendata.storage.files import Receiving


class UploadRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return Receiving(current_app.config["STORAGE_PATH"], max_size=current_app.config["MAX_UPLOAD_SIZE"])
