"""``escher completion SHELL``: the shell completion script (commands, options, choices), printed or installed."""

from __future__ import annotations

from enum import StrEnum

import typer

from escher.cli._render import console, emit


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def completion(
    ctx: typer.Context,
    shell: Shell = typer.Argument(..., metavar="SHELL", help="bash, zsh, fish or powershell."),
    install: bool = typer.Option(
        False, "--install", help="Add it to the shell's startup file instead of printing it."
    ),
) -> None:
    """Print the shell completion script: eval "$(escher completion bash)" in ~/.bashrc, or use --install."""
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script
    from typer._completion_shared import install as install_script

    completion_init()  # typer's completion classes answer the _ESCHER_COMPLETE calls the script makes
    if install:
        _, path = install_script(shell=shell.value, prog_name="escher", complete_var="_ESCHER_COMPLETE")
        emit(
            ctx,
            {"shell": shell.value, "installed": str(path)},
            lambda: console().print(
                f"Installed {shell.value} completion in {path}; open a new shell to use it."
            ),
        )
        return
    script = get_completion_script(prog_name="escher", complete_var="_ESCHER_COMPLETE", shell=shell.value)
    emit(ctx, {"shell": shell.value, "script": script}, lambda: typer.echo(script))
