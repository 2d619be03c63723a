"""Each shared flag is one row of the flag table, which every command that takes it reads."""

from __future__ import annotations

import dataclasses

from smsp_cli.cli.flagtable import BATCH_FLAGS, CONNECTION_FLAGS, SETTING_FLAGS
from smsp_cli.cli.settingflags import ConnectionOptions
from smsp_cli.settings.connection import KEYS


def test_every_setting_with_a_flag_has_its_row_and_the_row_its_spelling_and_variable() -> None:
    assert set(SETTING_FLAGS) == {key for key, (flag, _) in KEYS.items() if flag}
    sender = SETTING_FLAGS["sender_address"]
    assert sender.spellings == ("--from",)
    assert sender.help == "wsa:From address to send (optional). (env SMSP_FROM)"
    assert sender.profile_help == "wsa:From address (optional)."
    quoted = SETTING_FLAGS["soap_action_quoted"]
    assert (quoted.spellings, quoted.off) == (("--soap-action-quoted",), "--no-soap-action-quoted")
    # The credential switches' help names no variable.
    assert SETTING_FLAGS["no_input"].help == "Never prompt; fail instead."


def test_the_commands_bundle_has_a_field_for_each_row_it_is_given() -> None:
    fields = [field.name for field in dataclasses.fields(ConnectionOptions)]
    assert sorted(fields) == sorted(flag.name for flag in (*CONNECTION_FLAGS, *BATCH_FLAGS))
