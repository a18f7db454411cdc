"""What every command receives: the chosen settings (loaded on first use) and the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field

from project.output import Terminal
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
            from project.database import password_of

            self._settings = load_settings(self.settings_module)
            self.terminal.hide(password_of(self._settings.database_url))
        return self._settings
