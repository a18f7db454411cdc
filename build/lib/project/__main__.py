"""`python -m project`: the `manage-project` command (startproject, or any command with --settings)."""

from project.cli import execute_from_command_line

if __name__ == "__main__":
    execute_from_command_line("python -m project")
