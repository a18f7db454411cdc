"""The README's examples are true: its tutorial, run as written on a fresh copy of the
project, prints exactly what the README shows."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from conftest import REPO, Project

SESSION_LINE = re.compile(r"^    \$ (.+)$")
ADD_TO = re.compile(r"Add to `([^`]+)`:\s*$")


@dataclass
class Session:
    command: str  # e.g. "python manage.py migrate"
    output: str


@dataclass
class Edit:
    path: str
    code: str


def readme_section(title: str) -> list[str]:
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index(f"## {title}")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    return lines[start + 1 : end]


def steps(lines: list[str]) -> list[Session | Edit]:
    """The section's shell sessions (`    $ command` and the output below it, indented)
    and its code blocks that say where they go ("Add to `path`:"), in order."""
    found: list[Session | Edit] = []
    index = 0
    while index < len(lines):
        session = SESSION_LINE.match(lines[index])
        if session:
            output = []
            index += 1
            while (
                index < len(lines)
                and lines[index].startswith("    ")
                and not SESSION_LINE.match(lines[index])
            ):
                output.append(lines[index][4:])
                index += 1
            found.append(Session(session.group(1), "".join(f"{line}\n" for line in output)))
            continue
        if lines[index] == "```python":
            target = next(
                (m.group(1) for line in reversed(lines[:index]) if (m := ADD_TO.search(line))), None
            )
            end = lines.index("```", index + 1)
            if target is not None:
                found.append(Edit(target, "\n".join(lines[index + 1 : end]) + "\n"))
            index = end
        index += 1
    return found


def test_the_tutorial_prints_what_the_readme_shows(sqlite_project: Project) -> None:
    project = sqlite_project
    project.run("migrate", check=True)  # the README's first command, "Two commands"
    tutorial = steps(readme_section("Tutorial"))
    sessions = [step for step in tutorial if isinstance(step, Session)]
    assert len(sessions) >= 5 and any(isinstance(step, Edit) for step in tutorial)
    for step in tutorial:
        if isinstance(step, Edit):
            project.append(step.path, "\n\n" + step.code)
            continue
        words = shlex.split(step.command)
        assert words[:2] == ["python", "manage.py"], step.command
        result = project.run(*words[2:])
        assert result.stdout == step.output, f"{step.command}\n{result}"


def test_the_readme_parser_reads_sessions_and_edits() -> None:
    lines = [
        "Add to `apps/pets/models.py`:",
        "",
        "```python",
        "class A(Model): ...",
        "```",
        "",
        "    $ python manage.py migrate",
        "    Operations to perform:",
        "      Apply all migrations: pets",
        "    $ python manage.py check",
        "    ok",
        "",
        "text",
    ]
    assert steps(lines) == [
        Edit("apps/pets/models.py", "class A(Model): ...\n"),
        Session(
            "python manage.py migrate", "Operations to perform:\n  Apply all migrations: pets\n"
        ),
        Session("python manage.py check", "ok\n"),
    ]


def readme_block_after(phrase: str) -> str:
    """The indented block that follows the paragraph ending with `phrase`."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(phrase)) + 1
    while not lines[start].strip():
        start += 1
    block = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        block.append(line[4:])
    return "".join(f"{line}\n" for line in block)


TIMES = re.compile(r"applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d+\.\d\d s")
TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


def test_the_history_and_conflict_examples(sqlite_project: Project) -> None:
    project = sqlite_project
    project.run("migrate", check=True)
    edited = project.file("apps/owners/migrations/0002_lowercase_emails.py")
    edited.write_text(edited.read_text() + "\n# edited\n")
    shown = project.run("showmigrations", "-v", "2", "owners", check=True).stdout
    example = readme_block_after("`showmigrations -v 2` shows the history:")
    assert TIMES.sub("applied T", shown) == TIMES.sub("applied T", example)

    # Two people's 0002 of pets (Toy and Ball), both landed.
    project.append("apps/pets/models.py", TOY + TOY.replace("Toy", "Ball"))
    project.run("makemigrations", "-n", "toy", check=True)
    toy = project.file("apps/pets/migrations/0002_toy.py")
    ball = toy.read_text().replace("pets_0002_toy", "pets_0002_ball").replace("pets_ball", "x")
    toy.with_name("0002_ball.py").write_text(ball)
    refused = project.run("migrate")
    assert refused.stderr == readme_block_after("refuse to guess an order:")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """The README's second command is the whole of CI: .ci/run's last line is that command."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    test_command = next(command for command in commands if "pytest" in command)
    ci_lines = [line for line in (REPO / ".ci/run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == test_command
