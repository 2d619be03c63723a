"""``smsp auth``: the passphrase of a profile's encrypted key or PKCS#12 file, in the keyring.

The passphrase is read from a hidden prompt or ``--passphrase-file``, never from argv, and is
never printed. Without a usable keyring, nothing is stored: smsp says so and points to
``--passphrase-file`` instead (no plain-text fallback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from smsp_cli.cli.options import DataJsonOpt, DataOutputOpt, ProfileOpt, wants_json
from smsp_cli.cli.usage import SmspTyper
from smsp_cli.output.formats import DataFormat
from smsp_cli.system.streams import note

if TYPE_CHECKING:
    from smsp_cli.settings.clientcert import PassphraseGetter
    from smsp_cli.settings.credentials import Secret

app = SmspTyper(
    help="Keep a profile's key or PKCS#12 passphrase in the system keyring.",
    no_args_is_help=True,
)





def _credential_files(name: str) -> tuple[Path, Path | None] | None:
    """The profile's certificate and key as flags, environment and file give them, if set."""
    from smsp_cli.settings import config

    merged = config.layered(config.load(), {"profile": name})
    cert, key = merged.get("cert"), merged.get("key")
    if cert is None:
        return None
    return Path(cert.value).expanduser(), Path(key.value).expanduser() if key else None


@app.command("set")
def set_passphrase(
    profile: ProfileOpt = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option("--passphrase-file", metavar="FILE", help="Read it from FILE (mode 0600)."),
    ] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; fail.")] = False,
) -> None:
    """Store the profile's passphrase in the keyring, after checking it unlocks the key."""
    from smsp_cli.audit.events import config_change, rejections_recorded
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import clientcert, config, credentials
    from smsp_cli.settings.connection import SANDBOX_PROFILE

    name = config.profile_to_edit(config.load(), profile)
    if name == SANDBOX_PROFILE:
        raise ConfigError("the built-in sandbox profile needs no passphrase")
    files = _credential_files(name)
    locked = files is not None and clientcert.needs_passphrase(*files)
    if passphrase_file is not None:
        secret = credentials.read_passphrase_file(passphrase_file, source="--passphrase-file")
        secret.profile = name
    elif credentials.can_prompt(no_input):
        secret = _ask(name, confirm=not locked)
    else:
        raise ConfigError(
            f"no passphrase to store for profile {name}: "
            + ("--no-input forbids asking"
               if no_input or credentials.no_input_from_environment()
               else "there is no terminal to ask on"),
            hint=f"pass --passphrase-file FILE: `smsp auth set --profile {name} "
            "--passphrase-file FILE`",
        )
    if files is not None and locked:
        # A wrong passphrase is refused here, not on the next lookup.
        with rejections_recorded():
            clientcert.load(*files, _given(secret))
    elif files is not None:
        note(f"the key of profile {name} is not encrypted; storing the passphrase anyway")
    # spec §7.2: the change is audited, never the secret; under the config lock, like every
    # other change to a profile's settings.
    with config_change(name) as changes, config.locked():
        try:
            backend = credentials.keyring_set(name, secret.reveal())
        except credentials.KeyringUnavailable as unavailable:
            raise ConfigError(
                f"cannot store the passphrase for profile {name}: {unavailable}",
                hint="nothing was stored; pass --passphrase-file FILE (mode 0600) instead, or "
                f"`smsp config set passphrase_file FILE --profile {name}`",
            ) from None
        changes.record("auth-set", keyring=backend)
    note(f"stored the passphrase for profile {name} in the keyring ({backend})")


def _ask(name: str, *, confirm: bool) -> Secret:
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import credentials

    value = credentials.prompt_hidden(f"Passphrase for profile {name}: ")
    if not value:
        raise ConfigError("no passphrase given; nothing stored")
    # Nothing to check it against: ask twice so a typo is not stored.
    if confirm and credentials.prompt_hidden("Again: ") != value:
        raise ConfigError("the two passphrases differ; nothing stored")
    return credentials.Secret(value, "the prompt", "run `smsp auth set` again", profile=name)


def _given(secret: Secret) -> PassphraseGetter:
    def passphrase(what: str) -> Secret:
        return secret

    return passphrase


@app.command()
def status(
    profile: ProfileOpt = None,
    output: DataOutputOpt = DataFormat.table,
    as_json: DataJsonOpt = False,
) -> None:
    """Say whether a passphrase is stored and whether it unlocks the key (never show it)."""
    from smsp_cli.audit.events import rejections_recorded
    from smsp_cli.domain.errors import ConfigError, SmspError
    from smsp_cli.settings import clientcert, config, credentials

    name = config.profile_to_edit(config.load(), profile)
    shown: dict[str, object] = {"schema": 1, "profile": name, "keyring": None,
                                "keyring_unavailable": None, "passphrase_stored": None}
    lines = [f"profile     {name}"]
    stored: str | None = None
    try:
        backend = credentials.keyring_backend()
        stored = credentials.keyring_get(name)
        lines.append(f"keyring     {backend}")
        lines.append(f"entry       {'stored' if stored is not None else 'none'}")
        shown |= {"keyring": str(backend), "passphrase_stored": stored is not None}
    except credentials.KeyringUnavailable as unavailable:
        lines.append(f"keyring     unavailable: {unavailable}")
        shown["keyring_unavailable"] = str(unavailable)
    token_key = _token_key(name)
    if token_key is not None:
        # PDS FHIR: whether a token is cached, and until when (never the token).
        state, until = _token_state(token_key[0])
        lines.append(f"token       {state}")
        lines.append(f"token URL   {token_key[1]}")
        shown |= {"api": "fhir", "key": None,
                  "token": {"cached": until is not None, "expires": until,
                            "token_url": token_key[1]}}
        _write_status(lines, shown, wants_json(output, as_json))
        return
    files = _credential_files(name)
    problem = None
    if files is None:
        lines.append("key         (no certificate configured)")
        key = "no-certificate"
    elif not clientcert.needs_passphrase(*files):
        lines.append("key         not encrypted: no passphrase needed")
        key = "not-encrypted"
    elif stored is None:
        lines.append("key         encrypted")
        key = "encrypted"
        problem = "no passphrase stored"
    else:
        secret = credentials.Secret(stored, f"the keyring entry for profile {name}", "",
                                    profile=name)
        try:
            with rejections_recorded():
                clientcert.load(*files, _given(secret))
            lines.append("key         encrypted; the stored passphrase unlocks it")
            key = "unlocked"
        except SmspError:
            lines.append("key         encrypted; the stored passphrase does NOT unlock it")
            key = "wrong-passphrase"
            problem = "the stored passphrase is wrong"
    shown |= {"api": "smsp", "key": key, "token": None}
    if problem is None:
        _write_status(lines, shown, wants_json(output, as_json))
        return
    error = ConfigError(
        f"profile {name}: {problem}",
        hint=f"run `smsp auth set --profile {name}`, or pass --passphrase-file FILE",
    )
    if wants_json(output, as_json):
        error.result = shown  # one object: the status, then exit_code and error
    else:
        _write_status(lines, shown, False)
    raise error


def _write_status(lines: list[str], shown: dict[str, object], as_json: bool) -> None:
    if as_json:
        import json

        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def delete(profile: ProfileOpt = None) -> None:
    """Remove the profile's passphrase from the keyring."""
    from smsp_cli.audit.events import config_change
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import config, credentials

    name = config.profile_to_edit(config.load(), profile)
    with config_change(name) as changes, config.locked():
        try:
            removed = credentials.keyring_delete(name)
        except credentials.KeyringUnavailable as unavailable:
            raise ConfigError(f"cannot reach the keyring: {unavailable}") from None
        changes.record("auth-delete", removed=removed)
    note(f"deleted the passphrase for profile {name}" if removed
          else f"no passphrase stored for profile {name}")


def _token_key(name: str) -> tuple[str, str] | None:
    """(token cache key, token URL) for a PDS FHIR profile; None for an SMSP one."""
    from smsp_cli.settings import config
    from smsp_cli.settings.fhir import default_token_url

    merged = config.layered(config.load(), {"profile": name})
    api, api_key = merged.get("api"), merged.get("api_key")
    if api is None or api.value.strip().lower() != "fhir" or api_key is None:
        return None
    from smsp_cli.adapters.fhir.tokencache import cache_key

    token = merged.get("token_url")
    endpoint = merged.get("endpoint")
    url = token.value if token else default_token_url(endpoint.value if endpoint else "")
    if url is None:
        return None
    return cache_key(name, api_key.value.strip(), url), url


def _token_state(key: str) -> tuple[str, str | None]:
    """The cached token's state for people, and its expiry (ISO 8601, UTC) if one is cached."""
    import datetime as dt

    from smsp_cli.adapters.fhir import tokencache

    token = tokencache.status(key)
    if token is None:
        return "none cached (the next lookup signs in)", None
    until = dt.datetime.fromtimestamp(token.expires_at, dt.UTC)
    return (f"cached until {until.strftime('%Y-%m-%d %H:%M:%S')} UTC",
            until.strftime("%Y-%m-%dT%H:%M:%SZ"))


@app.command()
def logout(profile: ProfileOpt = None) -> None:
    """Remove the PDS FHIR access token cached for the profile (the next lookup signs in)."""
    from smsp_cli.adapters.fhir import tokencache
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import config

    name = config.profile_to_edit(config.load(), profile)
    found = _token_key(name)
    if found is None:
        raise ConfigError(f"profile {name} is not a PDS FHIR profile with an API key",
                          hint="auth logout removes a PDS FHIR token; `smsp auth delete` "
                          "removes a stored passphrase")
    removed = tokencache.drop(found[0])
    note(f"removed the cached token for profile {name}" if removed
         else f"no token cached for profile {name}")
