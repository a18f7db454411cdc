"""What every command receives: the chosen settings (loaded on first use) and the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field

from project.cli.output import Terminal
from project.settings import Settings, load_settings


@dataclass
class Runtime:
    settings_module: str | None = None
    verbosity: int = 1
    traceback: bool = False
    terminal: Terminal = field(default_factory=Terminal)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from project.backends.connections import require_encoded_password, secrets_of

            settings = load_settings(self.settings_module)
            for secret in secrets_of(settings.database_url):
                self.terminal.hide(secret)
            require_encoded_password(settings.database_url)  # also where no engine is made
            self._settings = settings
        return self._settings
