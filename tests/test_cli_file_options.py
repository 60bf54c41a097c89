"""--target / --task / --impute: one declaration, the same options in every command that loads data."""

import typer.main

from depthlab.cli import _load_commands, app
from depthlab.cli.file_options import Dates, Impute, Target, Task, given

LOADS_DATA = ("train", "study", "advise", "doctor", "inspect")


def test_every_command_that_loads_data_offers_the_one_declaration_of_its_file_options():
    _load_commands()
    commands = typer.main.get_command(app).commands
    declared = {
        f"--{name}": t.__metadata__[0].help
        for name, t in (("target", Target), ("task", Task), ("impute", Impute), ("dates", Dates))
    }
    for name in LOADS_DATA:
        offered = {p.opts[0]: p.help for p in commands[name].params if p.opts[0] in declared}
        assert offered == declared, name


def test_only_the_options_given_are_passed_on():
    assert given("y", None, "mean", None) == {"target": "y", "impute": "mean"}
    assert given(None, None, None, "raw") == {"dates": "raw"}
    assert given(None, None, None, None) == {}
