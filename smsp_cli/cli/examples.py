"""Two or three examples at the end of every help page, as gh's help pages end.

Keyed by the command's path as typed (``smsp sandbox serve``), so a command module need not
change to gain them, and known without importing Typer: the root page written before Typer
(:mod:`smsp_cli.cli.roothelp`) ends with the same lines. Each example is a comment saying what
it does and a command line short enough for an 80-column terminal; tests parse every one with
the command it belongs to, so an example cannot name a flag that does not exist.

The patients are the sandbox's synthetic ones (``smsp sandbox patients``).
"""

from __future__ import annotations

Example = tuple[str, str]  # (what it does, the command line)

EXAMPLES: dict[str, tuple[Example, ...]] = {
    "smsp": (
        (
            "try it with no set-up: the embedded sandbox",
            "smsp get 9991000003 --dob 1984-03-14 --profile sandbox",
        ),
        ("set up a real provider once", "smsp config init"),
        ("a command's help (the same as smsp get --help)", "smsp help get"),
    ),
    "smsp verify": (
        ("is this the patient's NHS number?", "smsp verify 9991000003 --dob 1984-03-14"),
        (
            "the family name checked too",
            "smsp verify 9991000003 --dob 14/03/1984 --family Fairweather",
        ),
        (
            "for a script: the answer as JSON (exit 1 when not verified)",
            "smsp verify 9991000003 --dob 1984-03-14 -o json",
        ),
    ),
    "smsp get": (
        ("a patient's details", "smsp get 9991000003 --dob 1984-03-14"),
        (
            "as JSON, from the built-in sandbox",
            "smsp get 9991000003 --dob 1984-03-14 --json --profile sandbox",
        ),
        (
            "the envelope that would be sent, sending nothing",
            "smsp get 9991000003 --dob 1984-03-14 --dry-run",
        ),
    ),
    "smsp search": (
        ("by demographics", "smsp search --family Fairweather --dob 1984-03-14 --gender female"),
        (
            "narrowed by a given name",
            "smsp search --family Fairweather --given Eleanor --dob 1984-03-14 --gender f",
        ),
        ("a wildcard family name", "smsp search --family Fair* --dob 1984-03-14 --gender female"),
    ),
    "smsp trace": (
        (
            "a patient's NHS number, by demographics",
            "smsp trace --family Fairweather --dob 1984-03-14 --gender female",
        ),
        (
            "with only the year of birth",
            "smsp trace --family Fairweather --dob 1984 --gender f --postcode BO14QX",
        ),
        (
            "the number alone, for a script",
            "smsp trace --family Fairweather --dob 1984 --gender f -o json",
        ),
    ),
    "smsp details": (
        ("by NHS number", "smsp details --nhs-number 9991000003 --dob 1984-03-14"),
        (
            "by family, given name and gender",
            "smsp details --family Fairweather --given Eleanor --gender f --dob 19840314",
        ),
    ),
    "smsp batch": (
        (
            "every row of a CSV file, one JSON line per row",
            "smsp batch get patients.csv --out results.jsonl",
        ),
        (
            "go on from where a stopped batch ended",
            "smsp batch get patients.csv --out results.jsonl --resume",
        ),
        (
            "JSON lines from stdin, four lookups at once",
            "smsp batch verify - --format jsonl --concurrency 4",
        ),
    ),
    "smsp doctor": (
        ("check the default profile layer by layer", "smsp doctor"),
        ("another profile, as JSON for a support ticket", "smsp doctor --profile test -o json"),
        ("with a test patient of your own", "smsp doctor --nhs-number 9991000003 --dob 1984-03-14"),
    ),
    "smsp sandbox": (
        ("run the sandbox provider and print its settings", "smsp sandbox serve"),
        ("the synthetic patients and what each produces", "smsp sandbox patients"),
    ),
    "smsp sandbox serve": (
        ("on a free port; the settings to use it are printed", "smsp sandbox serve"),
        (
            "on a fixed port, with the settings as one JSON line",
            "smsp sandbox serve --port 8443 -o json",
        ),
        ("the PDS FHIR sandbox", "smsp sandbox serve --api fhir"),
    ),
    "smsp sandbox patients": (
        ("the built-in patients", "smsp sandbox patients"),
        ("as JSON", "smsp sandbox patients -o json"),
        ("the patients of an Opentest CSV file", "smsp sandbox patients --patients opentest.csv"),
    ),
    "smsp config": (
        ("create a profile (asks on a terminal)", "smsp config init"),
        ("the settings in effect, and where each came from", "smsp config show --sources"),
        ("the profiles", "smsp config profiles"),
    ),
    "smsp config init": (
        ("asked for each value on a terminal", "smsp config init"),
        (
            "a test profile; asks only for what the flags leave out",
            "smsp config init --profile test --kind test --audit-id 868000003114",
        ),
        (
            "replace a profile, and make it the default",
            "smsp config init --profile live --force --default",
        ),
    ),
    "smsp config show": (
        ("the default profile's settings", "smsp config show"),
        (
            "another profile, saying where each value came from",
            "smsp config show --profile test --sources",
        ),
        ("as JSON", "smsp config show -o json"),
    ),
    "smsp config set": (
        ("change the default profile's timeout", "smsp config set timeout 20"),
        (
            "set a value in another profile",
            "smsp config set endpoint https://provider.example/smsp --profile test",
        ),
    ),
    "smsp config unset": (
        ("let the default apply again", "smsp config unset timeout"),
        ("in another profile", "smsp config unset username --profile test"),
    ),
    "smsp config profiles": (
        ("the profiles, the default marked *", "smsp config profiles"),
        ("as JSON", "smsp config profiles -o json"),
    ),
    "smsp config use": (
        ("make test the default profile", "smsp config use test"),
        ("use the built-in sandbox by default", "smsp config use sandbox"),
    ),
    "smsp config path": (
        ("where the config file is", "smsp config path"),
        ("as JSON", "smsp config path -o json"),
    ),
    "smsp auth": (
        ("keep the key's passphrase in the keyring", "smsp auth set"),
        ("is one stored, and does it unlock the key?", "smsp auth status"),
    ),
    "smsp auth set": (
        ("asked for with a hidden prompt", "smsp auth set"),
        (
            "for another profile, read from a file",
            "smsp auth set --profile test --passphrase-file pass.txt",
        ),
    ),
    "smsp auth status": (
        ("the default profile", "smsp auth status"),
        ("another profile, as JSON", "smsp auth status --profile test -o json"),
    ),
    "smsp auth delete": (
        ("remove the default profile's passphrase", "smsp auth delete"),
        ("another profile's", "smsp auth delete --profile test"),
    ),
    "smsp auth logout": (
        ("forget the PDS FHIR token", "smsp auth logout"),
        ("another profile's", "smsp auth logout --profile pds"),
    ),
    "smsp audit": (
        ("who looked up this patient?", "smsp audit search --nhs-number 9991000003"),
        ("is the trail whole?", "smsp audit verify"),
    ),
    "smsp audit search": (
        ("every lookup of a patient", "smsp audit search --nhs-number 9991000003"),
        (
            "one user's lookups today, as JSON lines",
            "smsp audit search --user alice --since 2026-12-07 -o json",
        ),
        (
            "the record of one message",
            "smsp audit search --message-id 5B1F3B0A-9C1E-4E8B-A0C4-1D2E3F405060",
        ),
    ),
    "smsp audit verify": (
        ("check every record's hash chain", "smsp audit verify"),
        ("as JSON", "smsp audit verify -o json"),
    ),
    "smsp audit path": (
        ("the audit trail's current file", "smsp audit path"),
        ("as JSON", "smsp audit path -o json"),
    ),
    "smsp help": (
        ("the list of commands", "smsp help"),
        ("a command's help", "smsp help get"),
        ("a subcommand's help", "smsp help sandbox serve"),
    ),
}


def lines(command_path: str) -> list[str]:
    """The Examples section of ``command_path``'s page (no lines if it has none)."""
    examples = EXAMPLES.get(command_path)
    if not examples:
        return []
    out = ["Examples:"]
    for what, command in examples:
        out += [f"  # {what}", f"  $ {command}"]
    return [*out, ""]
