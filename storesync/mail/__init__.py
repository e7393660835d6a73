"""Outgoing mail: `send(Mail(...))` delivers through SMTP, or in embedded mode into var/mail/.

Imports only `storesync.settings` and `storesync.core`; tenancy and everything above may use it.
"""

from storesync.mail.errors import MailDeliveryFailed, MailNotConfigured
from storesync.mail.schemas import Mail
from storesync.mail.service import send

__all__ = ["Mail", "MailDeliveryFailed", "MailNotConfigured", "send"]
