"""What every part of customer e-mail shares, built once from the settings: the templates, the link
signer, the Message-ID key, and each team's settings."""

from __future__ import annotations

from dataclasses import dataclass

from bot.crypto import purpose_key
from bot.mail.address import address_hash
from bot.mail.links import LinkSigner
from bot.mail.policy import TeamMail, team_mail
from bot.mail.render import MailTemplates
from bot.settings import Settings
from storage.queries.mail import TeamMailRow


@dataclass(frozen=True)
class MailKit:
    settings: Settings
    templates: MailTemplates
    links: LinkSigner
    message_key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> MailKit:
        return cls(
            settings=settings,
            templates=MailTemplates(settings.mail_templates_dir),
            links=LinkSigner(purpose_key(settings, "mail-links")),
            message_key=purpose_key(settings, "message-id"),
        )

    def unsubscribe_url(self, *, address: str, language: str) -> str | None:
        """The one-click link for `address`; None without HOTLOOP_PUBLIC_URL (no link can reach us)."""
        base = self.settings.public_url.rstrip("/")
        if not base:
            return None
        token = self.links.unsubscribe_token(address_hash=address_hash(address), language=language)
        return f"{base}/u/{token}"

    def team_mail(self, row: TeamMailRow | None) -> TeamMail:
        if row is None:  # the team was removed: the defaults, signed by no team name
            return team_mail(name="", timezone="UTC", stored=None, settings=self.settings)
        return team_mail(name=row.name, timezone=row.timezone, stored=row.mail, settings=self.settings)
