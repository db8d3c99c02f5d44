"""E-mail to customers (issue 14): the message model and its outbox rows, templates per team and language,
the acknowledgement policy and sweep, the suppression list and one-click unsubscribe. The transport is
a port (`bot.mail.port.Mailer`); the SMTP adapter lives in adapters/mail/, the outbox handler and the
periodic sweep in jobs/mail.py."""
