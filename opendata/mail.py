"""Outgoing e-mail: invitations and password resets.

With ``MAIL_SERVER`` set, messages go out through SMTP (STARTTLS unless
``MAIL_STARTTLS`` is off, and a login when ``MAIL_USERNAME`` is set). Without it,
the whole message, link included, is written to the log at INFO, so that an
operator of a portal without a mail server can copy the link and pass it on.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from flask import current_app

from opendata.errors import AppError

log = logging.getLogger(__name__)
TIMEOUT = 20  # seconds; a request waits for the SMTP server, so do not wait forever


class MailFailed(AppError):
    status = 502
    code = "mail_failed"
    message = "Không gửi được thư điện tử. Vui lòng thử lại sau hoặc báo quản trị viên cổng."


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text message. Raises MailFailed when the SMTP server refuses or cannot be reached."""
    config = current_app.config
    # email.message.EmailMessage (3.11) drops a space when it folds a long encoded
    # Vietnamese subject; MIMEText with Header keeps it.
    message = MIMEText(body, "plain", "utf-8")
    sender_name, sender_address = parseaddr(config["MAIL_SENDER"])
    message["From"] = formataddr((sender_name, sender_address), charset="utf-8")
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8")
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or "localhost")
    if not config["MAIL_SERVER"]:
        log.info("MAIL_SERVER is not set; this message was not sent:\nTo: %s\nSubject: %s\n\n%s", to, subject, body)
        return
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=TIMEOUT) as smtp:
            if config["MAIL_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:  # socket errors are OSErrors
        log.error("mail to the SMTP server %s failed: %s", config["MAIL_SERVER"], error)
        raise MailFailed() from error
    log.info("mail sent: %s", message["Message-ID"])
