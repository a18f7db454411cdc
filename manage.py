#!/usr/bin/env python
"""Command-line utility for this project's database schema (as Django's manage.py)."""

import os


def main() -> None:
    os.environ.setdefault("MANAGE_SETTINGS_MODULE", "settings")
    from project.cli import execute_from_command_line

    execute_from_command_line()


if __name__ == "__main__":
    main()
