"""The request class: multipart file parts are received straight into the file store.

Werkzeug would otherwise spool each part to a temporary file of its own, which the
store would then copy: two writes of every byte. ``Receiving`` hashes the part as it
arrives and becomes the stored file by a link, so a 1 GB upload is written once.
"""

from __future__ import annotations

import io

from flask import Request, current_app

from opendata.storage.files import CHUNK, Receiving


class UploadRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        receiving = Receiving(current_app.config["STORAGE_PATH"], max_size=current_app.config["MAX_UPLOAD_SIZE"])
        self.__dict__.setdefault("_receiving", []).append(receiving)
        return receiving

    def _get_stream_for_parsing(self):
        # Werkzeug's parser reads 64 KiB at a time, and gunicorn copies what is left of its
        # 1 MiB read-ahead on each read: reading in 1 MiB pieces halves an upload's time.
        return io.BufferedReader(super()._get_stream_for_parsing(), CHUNK)

    def close(self) -> None:
        try:
            super().close()
        finally:
            # A part never handed to request.files (the client left mid-upload) is
            # dropped too; closing one already linked into place does nothing.
            for receiving in self.__dict__.pop("_receiving", ()):
                receiving.close()
