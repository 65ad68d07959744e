"""Hand one outbox row to an SMTP server (``MAIL_*`` settings). No database work here."""
from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr

log = logging.getLogger(__name__)


class PermanentEmailError(Exception):
    """The server refused this message for good (e.g. no such mailbox); retrying cannot help."""


def build_mime(message, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mime["Message-ID"] = make_msgid(idstring=f"notification-{message.id}", domain=domain)
    mime.set_content(message.body_text)
    return mime


def _is_permanent(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    # 5xx for this message's data; 5xx on sender or login is our configuration, fixed by an operator.
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def send(message, config: Mapping) -> None:
    """Send one message; raises ``PermanentEmailError``, or ``smtplib.SMTPException``/``OSError`` to retry."""
    mime = build_mime(message, config["MAIL_DEFAULT_SENDER"])
    smtp = None
    try:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]),
                            timeout=float(config["MAIL_TIMEOUT_SECONDS"]))
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(mime)
    except smtplib.SMTPException as exc:
        if _is_permanent(exc):
            raise PermanentEmailError(describe(exc)) from exc
        raise
    finally:
        if smtp is not None:
            _quit(smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    # Once the server accepted the message, a failed goodbye must not turn into a resend.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.info("SMTP QUIT failed after the exchange (%s); closing the connection", type(exc).__name__)
    finally:
        smtp.close()


def describe(exc: BaseException) -> str:
    """A short reason for the outbox row, without credentials (SMTP replies carry none of ours)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        return f"recipient refused: {code} {_text(reply)}"[:500]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
