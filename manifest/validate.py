#!/usr/bin/env python3
"""Validate the lambda-pause Slack app manifest.

Usage:
    python3 manifest/validate.py [MANIFEST]

MANIFEST defaults to manifest.json beside this script. The manifest is checked
against Slack's app-manifest JSON schema (schema/manifest.schema.1.0.0.json,
beside this script, copied from Slack with its LICENSE), then against
lambda-pause's own invariants, which the server relies on and the schema cannot
express:

  * the slash command `/lambda` exists and its url ends with /slack/commands;
  * interactivity is enabled and its request_url ends with /slack/interactions;
  * both URLs are https:// on the same host (one server answers both);
  * the bot scopes are exactly commands, chat:write, chat:write.public, usergroups:read,
    channels:history, groups:history (no more, no fewer, no duplicates);
  * socket mode is off (the server is reached over HTTP, not a websocket);
  * display_information.background_color is #rgb or #rrggbb (Slack's schema
    states this with a non-standard "regex" keyword that validators ignore).

Prints `manifest: valid` and exits 0, or prints every problem with its JSON
path and exits 1. Exits 2 when a file cannot be read or jsonschema is missing.

Needs the `jsonschema` package: pip install jsonschema
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "manifest.json"
SCHEMA = HERE / "schema" / "manifest.schema.1.0.0.json"

COMMAND = "/lambda"
COMMANDS_PATH = "/slack/commands"
INTERACTIONS_PATH = "/slack/interactions"
BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "usergroups:read",
    "channels:history",
    "groups:history",
]
COLOUR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")


def load_json(path: Path, what: str):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        print(f"{what}: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        print(f"{what}: {path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
        sys.exit(1)


def json_path(parts) -> str:
    """Render a jsonschema error path as $.a.b[0].c"""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(p) + "]"
    return out


def schema_errors(manifest, schema) -> list[tuple[str, str]]:
    try:
        import jsonschema
        from jsonschema.validators import validator_for
    except ImportError:
        print("validate.py needs the jsonschema package: pip install jsonschema", file=sys.stderr)
        sys.exit(2)

    cls = validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    validator = cls(schema)
    found: list[tuple[str, str]] = []

    def collect(err, depth=0):
        found.append((json_path(err.absolute_path), ("  " * depth) + err.message))
        # anyOf/oneOf failures: show why each branch failed.
        for sub in sorted(err.context or [], key=lambda e: list(map(str, e.absolute_path))):
            collect(sub, depth + 1)

    for err in sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path))):
        collect(err)
    return found


def get(obj, *keys):
    """obj[k1][k2]… or None when any step is missing or of the wrong type."""
    for k in keys:
        if isinstance(k, int):
            if not isinstance(obj, list) or k >= len(obj):
                return None
        elif not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def invariant_errors(m) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []

    # The slash command.
    commands = get(m, "features", "slash_commands")
    cmd_url, cmd_where = None, "$.features.slash_commands"
    if not isinstance(commands, list):
        errs.append(("$.features.slash_commands", f"the slash command {COMMAND} is missing"))
    else:
        idx = [i for i, c in enumerate(commands) if get(c, "command") == COMMAND]
        if not idx:
            errs.append(("$.features.slash_commands", f"the slash command {COMMAND} is missing"))
        elif len(idx) > 1:
            errs.append(("$.features.slash_commands", f"the slash command {COMMAND} is declared {len(idx)} times"))
        for i in idx:
            url = get(commands, i, "url")
            where = f"$.features.slash_commands[{i}].url"
            if not isinstance(url, str):
                errs.append((where, f"{COMMAND} has no url; it must end with {COMMANDS_PATH}"))
            elif not url.endswith(COMMANDS_PATH):
                errs.append((where, f"{url!r} must end with {COMMANDS_PATH}"))
            else:
                cmd_url, cmd_where = url, where

    # Interactivity.
    inter = get(m, "settings", "interactivity")
    inter_url = None
    if not isinstance(inter, dict):
        errs.append(("$.settings.interactivity", "interactivity must be enabled (the confirm/cancel/approve/deny buttons)"))
    else:
        if inter.get("is_enabled") is not True:
            errs.append(("$.settings.interactivity.is_enabled", "must be true (the confirm/cancel/approve/deny buttons)"))
        url = inter.get("request_url")
        if not isinstance(url, str):
            errs.append(("$.settings.interactivity.request_url", f"missing; it must end with {INTERACTIONS_PATH}"))
        elif not url.endswith(INTERACTIONS_PATH):
            errs.append(("$.settings.interactivity.request_url", f"{url!r} must end with {INTERACTIONS_PATH}"))
        else:
            inter_url = url

    # Both request URLs: HTTPS, one server.
    for where, url in ((cmd_where, cmd_url), ("$.settings.interactivity.request_url", inter_url)):
        if url is not None and urlsplit(url).scheme != "https":
            errs.append((where, f"{url!r} must be https:// (Slack only delivers to HTTPS request URLs)"))
    if cmd_url and inter_url and urlsplit(cmd_url).netloc != urlsplit(inter_url).netloc:
        errs.append((
            "$.settings.interactivity.request_url",
            f"host {urlsplit(inter_url).netloc!r} differs from the slash command's {urlsplit(cmd_url).netloc!r}; "
            "one lambda-pause server answers both",
        ))

    # Bot scopes: exactly these four.
    scopes = get(m, "oauth_config", "scopes", "bot")
    if not isinstance(scopes, list):
        errs.append(("$.oauth_config.scopes.bot", f"missing; must be exactly {BOT_SCOPES}"))
    else:
        extra = [s for s in scopes if s not in BOT_SCOPES]
        missing = [s for s in BOT_SCOPES if s not in scopes]
        dups = sorted({s for s in scopes if isinstance(s, str) and scopes.count(s) > 1})
        if extra:
            errs.append(("$.oauth_config.scopes.bot", f"unexpected scope(s) {extra}; must be exactly {BOT_SCOPES}"))
        if missing:
            errs.append(("$.oauth_config.scopes.bot", f"missing scope(s) {missing}; must be exactly {BOT_SCOPES}"))
        if dups:
            errs.append(("$.oauth_config.scopes.bot", f"duplicate scope(s) {dups}"))
    for key in ("user", "user_optional", "bot_optional"):
        if get(m, "oauth_config", "scopes", key):
            errs.append((f"$.oauth_config.scopes.{key}", "lambda-pause asks for bot scopes only"))

    # Socket mode would make Slack ignore the request URLs.
    if get(m, "settings", "socket_mode_enabled") is True:
        errs.append(("$.settings.socket_mode_enabled", "must be false: lambda-pause is reached over HTTP"))

    # Slack's schema writes this constraint as "regex", which is not a JSON Schema keyword.
    colour = get(m, "display_information", "background_color")
    if isinstance(colour, str) and not COLOUR.match(colour):
        errs.append(("$.display_information.background_color", f"{colour!r} must be #rgb or #rrggbb"))

    return errs


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    manifest_path = Path(argv[1]) if len(argv) == 2 else DEFAULT_MANIFEST

    schema = load_json(SCHEMA, "schema")
    manifest = load_json(manifest_path, "manifest")

    errors = [("schema", p, msg) for p, msg in schema_errors(manifest, schema)]
    errors += [("lambda-pause", p, msg) for p, msg in invariant_errors(manifest)]

    if not errors:
        print("manifest: valid")
        return 0
    print(f"manifest: {len(errors)} error(s) in {manifest_path}")
    for kind, path, msg in errors:
        print(f"  [{kind}] {path}: {msg}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
