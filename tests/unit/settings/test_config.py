"""The config file: location, mode 0600, TOML round trip, strict keys, precedence, commands."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsp_cli.domain.errors import ConfigError, ExitCode
from smsp_cli.settings import config
from smsp_cli.settings.connection import KEYS, resolve
from tests.lib.cli import smsp

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

ENDPOINT = "https://provider.example/smsp/pds"


def _config_file() -> Path:
    return Path(os.environ["SMSP_CONFIG_DIR"]) / "config.toml"


def _write(text: str) -> Path:
    path = _config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def profile_values(credentials: SandboxCredentials) -> dict[str, config.Value]:
    """A complete profile pointing at the sandbox's files."""
    return {
        "kind": "test",
        "endpoint": ENDPOINT,
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
    }


# --- where the file is, and how it is written ---------------------------------------------------


def test_config_dir_variable_moves_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert config.config_path() == tmp_path / "elsewhere" / "config.toml"


def test_without_the_variable_the_platform_user_config_dir_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import platformdirs

    monkeypatch.delenv("SMSP_CONFIG_DIR")
    assert config.config_path() == Path(platformdirs.user_config_dir("smsp")) / "config.toml"


def test_saved_file_is_mode_0600_in_a_0700_directory_whatever_the_umask(
    profile_values: dict[str, config.Value],
) -> None:
    old_umask = os.umask(0)
    try:
        config.save(config.Config(_config_file(), "live", {"live": profile_values}))
    finally:
        os.umask(old_umask)
    path = _config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary left


def test_saving_over_a_loose_file_makes_it_0600(profile_values: dict[str, config.Value]) -> None:
    path = _write("")
    path.chmod(0o644)
    config.save(config.Config(path, None, {"live": profile_values}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_file_is_an_empty_config() -> None:
    loaded = config.load()
    assert (loaded.default_profile, dict(loaded.profiles)) == (None, {})


def test_round_trip_keeps_every_type(profile_values: dict[str, config.Value]) -> None:
    values = {**profile_values, "soap_action_quoted": True, "connect_timeout": 2.5,
              "max_attempts": 4, "read_timeout": 30}
    original = config.Config(_config_file(), "live", {"live": values, "other": {"kind": "live"}})
    config.save(original)
    assert config.load() == original


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40))
def test_any_string_survives_the_toml_writer(text: str) -> None:
    written = config.dumps(config.Config(Path("x"), None, {"p": {"username": text}}))
    assert tomllib.loads(written)["profiles"]["p"]["username"] == text


# --- strict reading: one clear line naming the file and the key -------------------------------


def test_unknown_profile_key_names_the_file_profile_and_key() -> None:
    path = _write('[profiles.live]\nendpont = "https://x/"\n')
    with pytest.raises(ConfigError) as caught:
        config.load()
    line = caught.value.one_line()
    assert str(path) in line
    assert "[profiles.live]" in line
    assert "'endpont'" in line
    assert caught.value.exit_code == ExitCode.CONFIG


def test_a_passphrase_in_the_file_is_refused_with_the_auth_command() -> None:
    _write('[profiles.live]\npassphrase = "hunter2"\n')
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert "smsp auth set --profile live" in caught.value.one_line()
    assert "hunter2" not in caught.value.one_line()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "blue"\n', "unknown key 'colour'"),
        ("default_profile = 3\n", "default_profile"),
        ('[profiles.sandbox]\nendpoint = "https://x/"\n', "built in"),
        ('[profiles."bad name"]\nendpoint = "https://x/"\n', "profile name"),
        ("[profiles.live]\ncert = [1, 2]\n", "cert must be"),
        ("[profiles.live\n", "not valid TOML"),
    ],
)
def test_broken_files_are_config_errors_naming_the_file(text: str, expected: str) -> None:
    path = _write(text)
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert expected in caught.value.one_line()
    assert str(path) in caught.value.one_line()


def test_a_lookup_with_a_broken_file_exits_6_naming_file_and_key() -> None:
    path = _write('default_profile = "live"\n[profiles.live]\ntimeout_s = 3\n')
    run = smsp("get", "9991000003", "--dob", "1984-03-14")
    assert run.exit_code == 6
    assert str(path) in run.stderr
    assert "'timeout_s'" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_profile_without_an_endpoint_names_the_file_and_the_fix(
    profile_values: dict[str, config.Value],
) -> None:
    values = {k: v for k, v in profile_values.items() if k != "endpoint"}
    config.save(config.Config(_config_file(), "live", {"live": values}))
    run = smsp("get", "9991000003", "--dob", "1984-03-14")
    assert run.exit_code == 6
    assert str(_config_file()) in run.stderr
    assert "'endpoint'" in run.stderr
    assert "smsp config set endpoint VALUE --profile live" in run.stderr


def test_an_unknown_profile_lists_the_ones_there_are(
    profile_values: dict[str, config.Value],
) -> None:
    config.save(config.Config(_config_file(), None, {"live": profile_values}))
    run = smsp("get", "9991000003", "--dob", "1984-03-14", "--profile", "liev")
    assert run.exit_code == 6
    assert "unknown profile 'liev'" in run.stderr
    assert "live" in run.stderr
    assert "sandbox" in run.stderr


def test_mismatched_certificate_and_key_name_both_files(
    profile_values: dict[str, config.Value], tmp_path: Path
) -> None:
    from smsp_cli.sandbox.certs import make_ca

    stray = make_ca("stray")
    stray.write(tmp_path / "stray.pem", tmp_path / "stray-key.pem")
    values = {**profile_values, "key": str(tmp_path / "stray-key.pem")}
    config.save(config.Config(_config_file(), "live", {"live": values}))
    run = smsp("get", "9991000003", "--dob", "1984-03-14")
    assert run.exit_code == 6
    assert "stray-key.pem does not match certificate" in run.stderr
    assert str(profile_values["cert"]) in run.stderr


def test_an_unreadable_certificate_names_the_file(
    profile_values: dict[str, config.Value], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    values = {**profile_values, "cert": str(junk)}
    config.save(config.Config(_config_file(), "live", {"live": values}))
    run = smsp("get", "9991000003", "--dob", "1984-03-14")
    assert run.exit_code == 6
    assert f"client certificate {junk} is not readable" in run.stderr


# --- precedence: flag > environment variable > profile > default ---------------------------

# (setting, its flag, its variable, flag value, environment value, profile value, default):
# the flag and variable names written out, as the README documents them.
PRECEDENCE = [
    ("endpoint", "--endpoint", "SMSP_ENDPOINT",
     "https://flag/", "https://env/", "https://profile/", None),
    ("audit_id", "--audit-id", "SMSP_AUDIT_ID", "111", "222", "333", None),
    ("username", "--username", "SMSP_USERNAME", "flag-user", "env-user", "profile-user", None),
    ("kind", "--kind", "SMSP_KIND", "sandbox", "test", "live", "live"),
    ("connect_timeout", "--connect-timeout", "SMSP_CONNECT_TIMEOUT", "1", "2", "3", "10"),
    ("read_timeout", "--read-timeout", "SMSP_READ_TIMEOUT", "4", "5", "6", "30"),
    ("soap_action_quoted", "--soap-action-quoted", "SMSP_SOAP_ACTION_QUOTED",
     "true", "false", "true", "false"),
    ("min_tls_version", "--min-tls-version", "SMSP_MIN_TLS_VERSION", "1.3", "1.2", "1.3", "1.2"),
    ("sender_address", "--from", "SMSP_FROM",
     "flag.example", "env.example", "profile.example", None),
    ("max_attempts", "--max-attempts", "SMSP_MAX_ATTEMPTS", "1", "2", "5", "3"),
    ("passphrase_file", "--passphrase-file", "SMSP_PASSPHRASE_FILE",
     "/flag/pass", "/env/pass", "/profile/pass", None),
]
LAYERS = ["flag", "env", "profile", "default"]


@pytest.mark.parametrize("layers", [LAYERS[i:] for i in range(4)], ids=LAYERS)
@pytest.mark.parametrize(
    ("key", "flag_name", "variable", "flag", "env", "profile", "default"), PRECEDENCE,
    ids=[row[0] for row in PRECEDENCE],
)
def test_precedence_table(
    key: str, flag_name: str, variable: str, flag: str, env: str, profile: str,
    default: str | None, layers: list[str],
) -> None:
    """Each row, with the layers from the given one down present: the highest one wins."""
    loaded = config.Config(Path("/cfg/config.toml"), "p",
                           {"p": {key: profile} if "profile" in layers else {}})
    flags = {key: flag} if "flag" in layers else {}
    environment = {variable: env} if "env" in layers else {}
    merged = config.layered(loaded, flags, environment)
    winner = layers[0]
    expected_value = {"flag": flag, "env": env, "profile": profile, "default": default}[winner]
    expected_source = {
        "flag": flag_name,
        "env": variable,
        "profile": "profile p (/cfg/config.toml)",
        "default": "default",
    }[winner]
    if expected_value is None:
        assert key not in merged
    else:
        assert (merged[key].value, merged[key].source) == (expected_value, expected_source)


@pytest.mark.parametrize(
    ("timeout", "connect", "expected"),
    [
        (("--timeout", "7"), ("profile", "3"), 7.0),  # flag --timeout beats the profile
        (("SMSP_TIMEOUT", "7"), ("profile", "3"), 7.0),  # so does the variable
        (("profile", "7"), ("profile", "3"), 3.0),  # same layer: the specific one wins
        (("profile", "7"), ("SMSP_CONNECT_TIMEOUT", "3"), 3.0),
        (("profile", "7"), ("default", "10"), 7.0),  # any timeout beats the default
    ],
)
def test_timeout_and_connect_timeout_follow_the_layers(
    timeout: tuple[str, str], connect: tuple[str, str], expected: float,
    profile_values: dict[str, config.Value],
) -> None:
    from smsp_cli.settings.connection import Sourced

    merged = config.layered(config.Config(Path("/c"), "p", {"p": profile_values}), {}, {})
    merged["timeout"] = Sourced(timeout[1], timeout[0])
    merged["connect_timeout"] = Sourced(connect[1], connect[0])
    assert resolve(merged).connect_timeout == expected


def test_default_profile_comes_after_flag_and_variable() -> None:
    loaded = config.Config(Path("/c"), "from-file", {})
    assert config.choose_profile(loaded, {}, {}).value == "from-file"  # type: ignore[union-attr]
    assert config.choose_profile(loaded, {}, {"SMSP_PROFILE": "env"}).value == "env"  # type: ignore[union-attr]
    chosen = config.choose_profile(loaded, {"profile": "flag"}, {"SMSP_PROFILE": "env"})
    assert chosen is not None
    assert (chosen.value, chosen.source) == ("flag", "--profile")


# --- the commands ---------------------------------------------------------------------------


def _init_args(values: dict[str, config.Value]) -> list[str]:
    args = ["config", "init", "--profile", "live", "--no-input"]
    for key, value in values.items():
        args += [KEYS[key][0], str(value)]
    return args


def test_config_init_writes_a_0600_file_from_flags(
    profile_values: dict[str, config.Value],
) -> None:
    run = smsp(*_init_args(profile_values))
    assert run.exit_code == 0, run.stderr
    path = _config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = config.load()
    assert loaded.default_profile == "live"
    assert loaded.profiles["live"] == profile_values
    assert "wrote profile live" in run.stderr


def test_config_init_without_a_terminal_names_the_missing_flag(
    profile_values: dict[str, config.Value],
) -> None:
    values = {k: v for k, v in profile_values.items() if k != "endpoint"}
    run = smsp(*_init_args(values))
    assert run.exit_code == 2
    assert "--endpoint" in run.stderr
    assert not _config_file().exists()


def test_config_init_without_a_terminal_names_every_missing_value_at_once() -> None:
    run = smsp("config", "init", "--no-input", "--profile", "p2")
    assert run.exit_code == 2  # a usage error: nothing is wrong with the configuration yet
    assert run.stderr.splitlines()[0] == (
        "smsp: error: the new profile needs --endpoint, --cert, --key, --ca-bundle and "
        "--audit-id (pass them, or run on a terminal to be asked)"
    )
    unnamed = smsp("config", "init", "--no-input")
    assert unnamed.exit_code == 2
    assert "needs --profile NAME, --endpoint," in unnamed.stderr
    assert not _config_file().exists()


def test_config_init_asks_on_a_terminal(
    profile_values: dict[str, config.Value], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from smsp_cli.cli.main import app
    from smsp_cli.settings import credentials

    monkeypatch.setattr(credentials, "stdin_is_terminal", lambda: True)
    answers = [str(profile_values[key]) for key in
               ("kind", "endpoint", "cert", "key", "ca_bundle", "audit_id")] + [""]
    result = CliRunner().invoke(app, ["config", "init", "--profile", "asked"],
                                input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.stderr
    assert config.load().profiles["asked"] == profile_values


def test_config_init_refuses_to_replace_a_profile_without_force(
    profile_values: dict[str, config.Value],
) -> None:
    assert smsp(*_init_args(profile_values)).exit_code == 0
    again = smsp(*_init_args(profile_values))
    assert again.exit_code == 6
    assert "already exists" in again.stderr
    assert smsp(*_init_args(profile_values), "--force").exit_code == 0


def test_config_init_checks_the_key_matches_the_certificate(
    profile_values: dict[str, config.Value], tmp_path: Path
) -> None:
    from smsp_cli.sandbox.certs import make_ca

    make_ca("stray").write(tmp_path / "s.pem", tmp_path / "s-key.pem")
    run = smsp(*_init_args({**profile_values, "key": str(tmp_path / "s-key.pem")}))
    assert run.exit_code == 6
    assert "does not match" in run.stderr


def test_config_set_unset_use_and_profiles(profile_values: dict[str, config.Value]) -> None:
    assert smsp(*_init_args(profile_values)).exit_code == 0
    assert smsp("config", "set", "connect_timeout", "4").exit_code == 0
    assert config.load().profiles["live"]["connect_timeout"] == 4
    bad = smsp("config", "set", "connect_timeout", "soon")
    assert bad.exit_code == 6
    assert "connect_timeout" in bad.stderr or "timeout" in bad.stderr
    unknown = smsp("config", "set", "colour", "blue")
    assert unknown.exit_code == 6
    assert "unknown setting 'colour'" in unknown.stderr
    made = smsp("config", "set", "endpoint", "https://other/", "--profile", "other")
    assert made.exit_code == 0
    assert "created profile other" in made.stderr
    assert smsp("config", "unset", "connect_timeout").exit_code == 0
    assert "connect_timeout" not in config.load().profiles["live"]
    assert smsp("config", "use", "other").exit_code == 0
    assert config.load().default_profile == "other"
    assert smsp("config", "use", "nope").exit_code == 6
    listed = smsp("config", "profiles").stdout.splitlines()
    assert listed[0].split() == ["live", "test", ENDPOINT]
    assert listed[1].split()[:2] == ["*", "other"]
    assert listed[2].split()[:2] == ["sandbox", "sandbox"]
    assert smsp("config", "use", "sandbox").exit_code == 0


def test_config_set_makes_relative_paths_absolute(
    profile_values: dict[str, config.Value], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert smsp(*_init_args(profile_values)).exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert smsp("config", "set", "ca_bundle", "ca.pem").exit_code == 0
    assert config.load().profiles["live"]["ca_bundle"] == str(tmp_path / "ca.pem")


def test_config_set_refuses_the_built_in_sandbox() -> None:
    run = smsp("config", "set", "endpoint", "https://x/", "--profile", "sandbox")
    assert run.exit_code == 6
    assert "built in" in run.stderr


def _sources(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        value, _, source = rest.strip().partition("  [")
        rows[key] = (value, source.rstrip("]"))
    return rows


def test_config_show_sources_names_flag_variable_profile_file_and_default(
    profile_values: dict[str, config.Value], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert smsp(*_init_args(profile_values)).exit_code == 0
    monkeypatch.setenv("SMSP_AUDIT_ID", "999000000002")
    run = smsp("config", "show", "--sources", "--endpoint", "https://flag.example/")
    assert run.exit_code == 0, run.stderr
    rows = _sources(run.stdout)
    in_file = f"profile live ({_config_file()})"
    assert rows["endpoint"] == ("https://flag.example/", "--endpoint")
    assert rows["audit_id"] == ("999000000002", "SMSP_AUDIT_ID")
    assert rows["cert"] == (str(profile_values["cert"]), in_file)
    assert rows["connect_timeout"] == ("10", "default")
    assert rows["profile"] == ("live", f"default_profile ({_config_file()})")
    assert rows["passphrase"][0] == "not needed"
    plain = smsp("config", "show")
    assert "[" not in plain.stdout
    assert "https://flag.example/" not in plain.stdout


def test_config_show_never_shows_a_passphrase(
    profile_values: dict[str, config.Value], tmp_path: Path
) -> None:
    secret = "s3cret-that-must-not-show"
    pass_file = tmp_path / "pass"
    pass_file.write_text(secret)
    pass_file.chmod(0o600)
    assert smsp(*_init_args(profile_values)).exit_code == 0
    run = smsp("config", "show", "--sources", "--passphrase-file", str(pass_file),
               "--key", str(tmp_path / "absent-key.pem"))
    assert run.exit_code == 0, run.stderr
    assert secret not in run.stdout + run.stderr
    assert _sources(run.stdout)["passphrase"] == (f"file {pass_file}", "--passphrase-file")


def test_config_show_for_the_sandbox_does_not_start_it() -> None:
    run = smsp("config", "show", "--sources", "--profile", "sandbox")
    assert run.exit_code == 0, run.stderr
    rows = _sources(run.stdout)
    assert rows["kind"] == ("sandbox", "profile sandbox (built in)")
    assert "<free port>" in rows["endpoint"][0]


def test_config_path_prints_the_file() -> None:
    assert smsp("config", "path").stdout.strip() == str(_config_file())


def test_audit_settings_are_profile_keys_typed_in_the_file(
    profile_values: dict[str, config.Value],
) -> None:
    assert smsp(*_init_args(profile_values), "--audit-syslog").exit_code == 0
    assert config.load().profiles["live"]["audit_syslog"] is True
    assert smsp("config", "set", "audit_max_bytes", "16MiB").exit_code == 0
    assert config.load().profiles["live"]["audit_max_bytes"] == 16 * 1024 * 1024
    too_small = smsp("config", "set", "audit_max_bytes", "100")
    assert too_small.exit_code == 6
    assert "audit_max_bytes '100'" in too_small.stderr
    shown = _sources(smsp("config", "show", "--sources").stdout)
    assert shown["audit_max_bytes"] == ("16777216", f"profile live ({_config_file()})")
    assert shown["audit_syslog"][0] == "true"
    preview = smsp("config", "show", "--sources", "--audit-max-bytes", "1MiB")
    assert _sources(preview.stdout)["audit_max_bytes"] == ("1MiB", "--audit-max-bytes")


# --- the user's own lines survive smsp's writes (tomlkit edits the file in place) -----------

HAND_WRITTEN = """\
# My NHS providers. Ask Sam before changing live.
default_profile = "live"  # the one most lookups use

# Production: spine via the HSCN.
[profiles.live]
kind = "live"
endpoint = "https://live.example/smsp/pds"  # from the onboarding email
timeout = 20

[profiles.old]
kind = "test"
endpoint = "https://old.example/smsp/pds"
"""


def test_config_set_keeps_the_users_comments_and_changes_only_its_value() -> None:
    _write(HAND_WRITTEN)
    run = smsp("config", "set", "timeout", "30", "--profile", "live")
    assert run.exit_code == 0, run.stderr
    assert _config_file().read_text(encoding="utf-8") == HAND_WRITTEN.replace(
        "timeout = 20", "timeout = 30"
    )


def test_config_unset_and_use_keep_every_other_line() -> None:
    _write(HAND_WRITTEN)
    assert smsp("config", "unset", "timeout", "--profile", "live").exit_code == 0
    assert smsp("config", "use", "old").exit_code == 0
    assert _config_file().read_text(encoding="utf-8") == (
        HAND_WRITTEN.replace("timeout = 20\n", "").replace(
            'default_profile = "live"', 'default_profile = "old"'
        )
    )


def test_config_init_adds_a_profile_at_the_end_and_keeps_the_comments(
    profile_values: dict[str, config.Value],
) -> None:
    _write(HAND_WRITTEN)
    args = _init_args(profile_values)
    args[args.index("live")] = "new"
    run = smsp(*args)
    assert run.exit_code == 0, run.stderr
    text = _config_file().read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN)  # the default stays the user's
    assert text[len(HAND_WRITTEN):].startswith(f'\n[profiles.new]\nendpoint = "{ENDPOINT}"\n')
    assert config.load().profiles["new"] == profile_values


def test_a_new_file_starts_with_smsps_header_and_settings_in_their_order() -> None:
    values: dict[str, config.Value] = {"timeout": 5, "endpoint": ENDPOINT, "kind": "test"}
    written = config.dumps(config.Config(Path("x"), "b", {"b": values, "a": {"kind": "live"}}))
    assert written == (
        "# smsp configuration: profiles of SMSP providers (see `smsp config --help`).\n"
        "# Written by smsp with mode 0600; passphrases are never stored here (`smsp auth set`).\n"
        'default_profile = "b"\n'
        "\n[profiles.a]\n"
        'kind = "live"\n'
        "\n[profiles.b]\n"
        f'endpoint = "{ENDPOINT}"\n'
        "timeout = 5\n"
        'kind = "test"\n'
    )


def test_a_value_that_changes_type_only_is_written_again() -> None:
    previous = '[profiles.p]\nsoap_action_quoted = 1  # was a number\n'
    written = config.dumps(
        config.Config(Path("x"), None, {"p": {"soap_action_quoted": True}}), previous
    )
    assert tomllib.loads(written) == {"profiles": {"p": {"soap_action_quoted": True}}}
