"""The command line: the entry point (main), the built-in commands (commands), the commands
apps ship and calling any command from Python (registry), and the only terminal writer
(output). Nothing below this package imports it.

manage.py and the `manage-project` console script import their entry points from here.
"""

from project.cli.main import execute_from_command_line, manage_project

__all__ = ["execute_from_command_line", "manage_project"]
