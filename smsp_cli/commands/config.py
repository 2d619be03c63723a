"""``smsp config``: create, inspect and change the provider profiles in the config file."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smsp_cli.cli.flagtable import SETTING_FLAGS
from smsp_cli.cli.options import (
    DataJsonOpt,
    DataOutputOpt,
    ProfileArg,
    ProfileOpt,
    wants_json,
    with_parameters,
)
from smsp_cli.cli.usage import SmspTyper
from smsp_cli.output.formats import DataFormat
from smsp_cli.system.streams import note

app = SmspTyper(
    help="Provider profiles: endpoint, certificates, audit identity and more, set once.",
    no_args_is_help=True,
)

NoInputOpt = Annotated[
    bool, typer.Option(*SETTING_FLAGS["no_input"].spellings, help=SETTING_FLAGS["no_input"].text)
]

# `config init` asks for these on a terminal (and needs them as flags without one).
_REQUIRED = ("kind", "endpoint", "cert", "key", "ca_bundle", "audit_id")
_QUESTIONS = {
    "kind": "Kind of provider (live, test or sandbox)",
    "endpoint": "Endpoint URL (https://...)",
    "cert": "Client certificate (PEM, or PKCS#12 .p12/.pfx)",
    "key": "Client private key (PEM)",
    "ca_bundle": "CA bundle that signs the provider's certificate (PEM)",
    "audit_id": "Audit identity (an ASID, urn:nhs-uk:identity:..., or urp=...,user=...,org=...)",
    "username": "wsse:Username (blank: the certificate's CN)",
    "api_key": "PDS FHIR API key (the application's key from the developer portal)",
    "signing_key": "PDS FHIR signing key: the RSA private key (PEM)",
    "signing_key_id": "PDS FHIR signing key id (the kid its public key is published under)",
}
# ... and these for a PDS FHIR profile (`config init --api fhir`); the token URL follows from
# an NHS England endpoint, so it is asked only when the endpoint has no default.
_FHIR_REQUIRED = ("kind", "endpoint", "api_key", "signing_key", "signing_key_id")


def _with_setting_flags(
    *, layered: bool
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one option per setting (``KEYS``) and a ``flags`` dict of them.

    ``layered``: the command also reads the environment, so each option names its variable.
    """
    return functools.partial(_add_setting_flags, layered=layered)


def _add_setting_flags(command: Callable[..., None], *, layered: bool) -> Callable[..., None]:
    from smsp_cli.settings.connection import KEYS

    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "flags"]
    extra = []
    for key in KEYS:
        if key in ("profile", "no_input") or not KEYS[key][0]:
            continue  # declared by the command itself, or kept out of argv (api_key)
        flag = SETTING_FLAGS[key]  # every setting with a flag has its row
        text = f"{flag.profile_help} (env {KEYS[key][1]})" if layered else flag.profile_help
        if flag.off:  # a switch: on, off (over the profile) or not given
            hint: Any = Annotated[
                bool | None,
                typer.Option(f"{flag.spellings[0]}/{flag.off}", help=text, show_default=False),
            ]
        else:
            hint = Annotated[str | None, typer.Option(*flag.spellings, help=text)]
        extra.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=hint,
                                       default=None))

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        flags: dict[str, str | None] = {}
        for parameter in extra:
            value = kwargs.pop(parameter.name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            flags[parameter.name] = value
        command(*args, flags=flags, **kwargs)

    return with_parameters(wrapper, signature, own, extra)


@app.command()
@_with_setting_flags(layered=False)
def init(
    profile: ProfileOpt = None,
    make_default: Annotated[
        bool | None,
        typer.Option("--default/--not-default",
                     help="Make it the default profile (default: if there is none yet).",
                     show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a profile of that name.")] = False,
    no_input: NoInputOpt = False,
    *,
    flags: dict[str, str | None],
) -> None:
    """Create a profile: asks on a terminal; every answer can also be given as a flag."""
    from smsp_cli.audit.events import config_change
    from smsp_cli.settings import config
    from smsp_cli.settings.credentials import can_prompt

    interactive = can_prompt(no_input)
    loaded = config.load()
    # Under --no-input every missing value is named at once (a usage error, exit 2).
    name = profile or (_ask_name() if interactive else "")
    if name:
        config.check_profile_name(name)
    if name in loaded.profiles and not force:
        raise _exists(name, loaded.path)
    values = _answers(flags, interactive, missing=[] if name else ["--profile NAME"])
    _check_credentials(values)
    # Asked outside the lock; written inside it, on the file as it is now.
    with config.locked() as current:
        if name in current.profiles and not force:
            raise _exists(name, current.path)
        updated = config.Config(
            current.path,
            current.default_profile,
            {**current.profiles, name: values},
        )
        if make_default or (make_default is None and not current.default_profile):
            updated = updated.with_default(name)
        with config_change(name) as changes:  # spec §7.2: configuration changes are audited
            config.save(updated)
            changes.record("init", values=values, default=updated.default_profile == name,
                           replaced=name in current.profiles)
    default = " (the default profile)" if updated.default_profile == name else ""
    note(f"wrote profile {name}{default} to {loaded.path}")
    _suggest_passphrase(name, values)


def _exists(name: str, path: object) -> Exception:
    from smsp_cli.domain.errors import ConfigError

    return ConfigError(
        f"profile {name!r} already exists in {path}",
        hint="change it with `smsp config set`, or pass --force to replace it",
    )


def _ask_name() -> str:
    return str(typer.prompt("Profile name", default="live", err=True))


def _answers(flags: dict[str, str | None], interactive: bool,
             missing: list[str]) -> dict[str, Any]:
    """Every given value, typed and checked; the required ones asked for when missing.

    Without a terminal the ones still ``missing`` (flags, as a user types them) are named all
    at once: a usage error, since nothing is wrong with the configuration yet.
    """
    from smsp_cli.domain.errors import SmspError, UsageError
    from smsp_cli.domain.wording import listed
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import KEYS

    values: dict[str, Any] = {}
    for key, text in flags.items():
        if text is not None and text != "":
            values[key] = config.typed(key, text, source=KEYS[key][0])
    fhir = values.get("api") == "fhir"
    if fhir and "api_key" not in values and os.environ.get("SMSP_API_KEY", "").strip():
        # The API key has no flag (kept out of argv): without a terminal it comes from here.
        values["api_key"] = config.typed("api_key", os.environ["SMSP_API_KEY"].strip(),
                                         source="SMSP_API_KEY")
    required = (*_FHIR_REQUIRED, "token_url") if fhir else (*_REQUIRED, "username")
    for key in required:
        if key == "token_url" and (key in values or _has_token_default(values)):
            continue
        if key in values or (key == "key" and _is_pkcs12(values.get("cert"))):
            continue
        if not interactive:
            if key == "username":
                continue
            if key == "kind":
                values[key] = "live"  # written out, so the file says what the guard rails assume
                continue
            missing.append(KEYS[key][0] or f"{KEYS[key][1]} (a variable)")
            continue
        while True:
            suggested = "live" if key == "kind" else ""
            answer = str(typer.prompt(_QUESTIONS[key], default=suggested,
                                      show_default=bool(suggested), err=True))
            if not answer.strip() and key == "username":
                break
            try:
                values[key] = config.typed(key, answer, source="your answer")
                break
            except SmspError as error:
                note(error.one_line())
    if missing:
        raise UsageError(
            f"the new profile needs {listed(missing)}",
            hint="pass them, or run on a terminal to be asked",
        )
    return values


class _Encrypted(Exception):
    """The signing key is encrypted: its passphrase is not asked for by config init."""


def _has_token_default(values: dict[str, Any]) -> bool:
    from smsp_cli.settings.fhir import default_token_url

    return default_token_url(str(values.get("endpoint", ""))) is not None


def _is_pkcs12(cert: object) -> bool:
    from pathlib import Path

    from smsp_cli.settings.clientcert import is_pkcs12

    return isinstance(cert, str) and is_pkcs12(Path(cert))


def _check_credentials(values: dict[str, Any]) -> None:
    """Refuse files that are missing, or a key that does not match its certificate."""
    from pathlib import Path

    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import clientcert

    if values.get("api") == "fhir":
        signing_key = Path(values["signing_key"])
        if not signing_key.is_file():
            raise ConfigError(f"signing key {signing_key} does not exist or is not a file")
        from smsp_cli.adapters.fhir.signin import load_signing_key

        def locked(what: str) -> Any:
            raise _Encrypted

        # RSA, 2048 bits or more, a private key; an encrypted one is checked on first use.
        with contextlib.suppress(_Encrypted):
            load_signing_key(signing_key, locked)
        if values.get("ca_bundle") and not Path(values["ca_bundle"]).is_file():
            raise ConfigError(f"CA bundle {values['ca_bundle']} does not exist or is not a file")
        return
    ca_bundle = Path(values["ca_bundle"])
    if not ca_bundle.is_file():
        raise ConfigError(f"CA bundle {ca_bundle} does not exist or is not a file")
    key = Path(values["key"]) if values.get("key") else None
    if clientcert.needs_passphrase(Path(values["cert"]), key):
        return  # checked when the passphrase is set (`smsp auth set`) or first used
    clientcert.load(Path(values["cert"]), key)


def _suggest_passphrase(name: str, values: dict[str, Any]) -> None:
    from pathlib import Path

    from smsp_cli.settings.clientcert import needs_passphrase

    if values.get("api") == "fhir":
        return
    key = Path(values["key"]) if values.get("key") else None
    if not values.get("passphrase_file") and needs_passphrase(Path(values["cert"]), key):
        note(
            f"the client key is encrypted: store its passphrase with "
            f"`smsp auth set --profile {name}`, or pass --passphrase-file FILE"
        )


@app.command()
@_with_setting_flags(layered=True)
def show(
    profile: ProfileOpt = None,
    sources: Annotated[
        bool, typer.Option("--sources", help="Also say where each value came from.")
    ] = False,
    no_input: NoInputOpt = False,
    output: DataOutputOpt = DataFormat.table,
    as_json: DataJsonOpt = False,
    *,
    flags: dict[str, str | None],
) -> None:
    """Show the effective settings (flags and environment applied); secrets never shown."""
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import DEFAULT_SOURCE, KEYS, SANDBOX_PROFILE
    from smsp_cli.settings.credentials import PassphraseSource

    flags = {**flags, "profile": profile, "no_input": "true" if no_input else None}
    loaded = config.load()
    chosen = config.choose_profile(loaded, flags)
    sandbox_values = None
    if chosen is not None and chosen.value == SANDBOX_PROFILE:
        sandbox_values = _sandbox_preview()
    merged = config.layered(loaded, flags, sandbox_values=sandbox_values)
    settings: dict[str, dict[str, Any]] = {}
    for key in KEYS:
        found = merged.get(key)
        if found is not None:
            hidden = key in _NOT_SHOWN
            settings[key] = {"value": None if hidden else found.value, "set": True,
                             "source": found.source}
        elif key == "username":
            settings[key] = {"value": None, "set": False, "source": DEFAULT_SOURCE}
        else:
            settings[key] = {"value": None, "set": False, "source": None}
    passphrase_file = merged.get("passphrase_file")
    no_input_value = merged.get("no_input")
    source = PassphraseSource(
        profile=chosen.value if chosen else None,
        passphrase_file=_path(passphrase_file.value) if passphrase_file else None,
        file_source=passphrase_file.source if passphrase_file else "",
        no_input=bool(no_input_value and no_input_value.value.lower() in ("true", "1",
                                                                           "yes", "on")),
    )
    # The passphrase itself is never shown: only where it would come from.
    where, why = _passphrase_row(merged, source)
    if wants_json(output, as_json):
        import json

        kind, _, file = where.partition(" ") if where.startswith("file ") else (where, "", "")
        shown = {
            "schema": 1,
            "config_file": str(loaded.path),
            "profile": chosen.value if chosen else None,
            "settings": settings,
            "passphrase": {"from": kind, "file": file or None, "detail": why},
        }
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
        return
    rows: list[tuple[str, str, str]] = [("config file", str(loaded.path), "")]
    for key, setting in settings.items():
        if setting["set"]:
            value = _HIDDEN if setting["value"] is None else setting["value"]
        elif key == "username":
            value = "(the client certificate's CN)"
        else:
            value = "(not set)"
        rows.append((key, value, setting["source"] or ""))
    rows.append(("passphrase", where, why))
    width = max(len(row[0]) for row in rows)
    for key, value, origin in rows:
        line = f"{key.ljust(width)}  {value}"
        if sources and origin:
            line += f"  [{origin}]"
        sys.stdout.write(line + "\n")


# Settings whose value is never printed, only that it is set and where from: the PDS FHIR API
# key is kept out of argv and output like a secret (it names the application to NHS England).
_NOT_SHOWN = frozenset({"api_key"})
_HIDDEN = "(set; not shown)"


def _passphrase_row(merged: dict[str, Any], source: Any) -> tuple[str, str]:
    from smsp_cli.domain.errors import SmspError
    from smsp_cli.settings import clientcert

    cert, key = merged.get("cert"), merged.get("key")
    if cert is not None:
        with contextlib.suppress(SmspError):
            # Without a passphrase source, loading fails if anything is encrypted.
            clientcert.load(_path(cert.value), _path(key.value) if key is not None else None)
            return "not needed", "the client key is not encrypted"
    return source.describe()  # type: ignore[no-any-return]


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text).expanduser()


def _sandbox_preview() -> dict[str, str]:
    """The built-in sandbox profile's values, without starting it (its port is picked later)."""
    from smsp_cli.sandbox.certs import credential_paths
    from smsp_cli.sandbox.embedded import settings_for
    from smsp_cli.sandbox.paths import sandbox_dir

    return settings_for("https://127.0.0.1:<free port>/smsp/pds", credential_paths(sandbox_dir()))


@app.command("set")
def set_value(
    key: Annotated[str, typer.Argument(metavar="KEY", help="A setting name, e.g. endpoint.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="Its value.")],
    profile: ProfileOpt = None,
) -> None:
    """Set one value in a profile (created if it does not exist yet)."""
    from smsp_cli.audit.events import config_change
    from smsp_cli.settings import config

    with config.locked() as loaded:
        name = config.profile_to_edit(loaded, profile)
        config.check_profile_name(name)
        typed = config.typed(key, value, source=f"`smsp config set {key}`")
        with config_change(name) as changes:
            config.save(loaded.with_value(name, key, typed))
            changes.record("set", key=key, value=typed, created=name not in loaded.profiles)
    if name not in loaded.profiles:
        note(f"created profile {name}")
    note(f"set {key} in profile {name} ({loaded.path})")


@app.command()
def unset(
    key: Annotated[str, typer.Argument(metavar="KEY", help="A setting name, e.g. username.")],
    profile: ProfileOpt = None,
) -> None:
    """Remove one value from a profile, so the environment or the default applies."""
    from smsp_cli.audit.events import config_change
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import config

    with config.locked() as loaded:
        name = config.profile_to_edit(loaded, profile)
        if name not in loaded.profiles:
            raise ConfigError(f"unknown profile {name!r}", hint=loaded.known_profiles())
        if key not in loaded.profiles[name]:
            raise ConfigError(f"profile {name} in {loaded.path} has no {key!r}")
        with config_change(name) as changes:
            config.save(loaded.without_value(name, key))
            changes.record("unset", key=key)
    note(f"removed {key} from profile {name} ({loaded.path})")


@app.command()
def profiles(output: DataOutputOpt = DataFormat.table, as_json: DataJsonOpt = False) -> None:
    """List the profiles; the default one is marked with *."""
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import SANDBOX_PROFILE

    loaded = config.load()
    rows = [
        (name, str(values.get("kind", "live")), values.get("endpoint"), False)
        for name, values in sorted(loaded.profiles.items())
    ]
    rows.append((SANDBOX_PROFILE, "sandbox", None, True))
    if wants_json(output, as_json):
        import json

        listed = {
            "schema": 1,
            "config_file": str(loaded.path),
            "default": loaded.default_profile,
            "profiles": [
                {"name": name, "kind": kind,
                 "endpoint": None if endpoint is None else str(endpoint),
                 "default": name == loaded.default_profile, "built_in": built_in}
                for name, kind, endpoint, built_in in rows
            ],
        }
        sys.stdout.write(json.dumps(listed, indent=2, ensure_ascii=False) + "\n")
        return
    width = max(len(row[0]) for row in rows)
    for name, kind, endpoint, built_in in rows:
        mark = "*" if name == loaded.default_profile else " "
        where = "(built in: the embedded provider)" if built_in else str(
            endpoint or "(no endpoint)")
        sys.stdout.write(f"{mark} {name.ljust(width)}  {kind.ljust(7)}  {where}\n")


@app.command()
def use(name: ProfileArg) -> None:
    """Make NAME the default profile."""
    from smsp_cli.audit.events import config_change
    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import SANDBOX_PROFILE

    with config.locked() as loaded:
        if name != SANDBOX_PROFILE and name not in loaded.profiles:
            raise ConfigError(f"unknown profile {name!r}", hint=loaded.known_profiles())
        with config_change(name) as changes:
            config.save(loaded.with_default(name))
            changes.record("use", previous=loaded.default_profile)
    note(f"the default profile is now {name} ({loaded.path})")


@app.command()
def path(output: DataOutputOpt = DataFormat.table, as_json: DataJsonOpt = False) -> None:
    """Print the config file's path (SMSP_CONFIG_DIR moves it)."""
    from smsp_cli.settings import config

    if wants_json(output, as_json):
        import json

        sys.stdout.write(json.dumps({"path": str(config.config_path())}) + "\n")
        return
    sys.stdout.write(f"{config.config_path()}\n")
