"""The e-mail transports behind `bot.mail.port.Mailer` (SMTP), and the one-click unsubscribe routes."""
