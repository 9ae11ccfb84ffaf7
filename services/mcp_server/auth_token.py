"""The shared secret between the MCP server and its one caller, the worker, as plain text.

Both sides read it the same way (`MCP_AUTH_TOKEN`, or `MCP_AUTH_TOKEN_FILE` for Compose and
Kubernetes secrets), so this module is stdlib only: the worker imports it without the server.

`python -m services.mcp_server.auth_token PATH` is Compose's one-shot job: it writes a random
token to PATH once (or `MCP_AUTH_TOKEN` when set) so `docker compose up` needs no configuration.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

TOKEN_RULE = "at least 16 visible ASCII characters (no spaces)"
# Visible ASCII only: the token travels in an HTTP header, where anything else is mangled.
_TOKEN = re.compile(r"[\x21-\x7e]{16,4096}")
# The JSON-RPC error code of a refused (unauthenticated) request: in the implementation-defined
# server range, so the worker can tell "not allowed" from any other failure.
UNAUTHORIZED_CODE = -32001


class TokenError(ValueError):
    """A token, or the file that should hold one, is unusable. Never quotes the token."""


def check_token(token: str) -> str:
    if not _TOKEN.fullmatch(token):
        raise TokenError(
            f"must be {TOKEN_RULE}, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return token


def read_token_file(path: Path) -> str:
    """The token in `path`, without the trailing newline editors and `echo` add."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TokenError(f"cannot read {path}: {reason}") from None
    token = text.strip()
    if not token:
        raise TokenError(f"{path} is empty")
    try:
        return check_token(token)
    except TokenError as exc:
        raise TokenError(f"the token in {path} {exc}") from None


def ensure_token_file(path: Path, token: str | None = None) -> bool:
    """Make `path` hold `token`, or keep the valid token it holds, or write a random one.

    True when the file was (re)written. The write is atomic (a reader never sees half a token)
    and owner-only: the MCP server and the workers run as the same user.
    """
    if token is None:
        try:
            read_token_file(path)
            return False
        except TokenError:
            token = secrets.token_urlsafe(32)
    else:
        check_token(token)
        try:
            if read_token_file(path) == token:
                return False
        except TokenError:
            pass
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    os.replace(partial, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.mcp_server.auth_token",
        description="Write the MCP auth token to PATH: MCP_AUTH_TOKEN when set, else a random "
        "one unless PATH already holds a valid token.",
    )
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    given = os.environ.get("MCP_AUTH_TOKEN", "").strip() or None
    try:
        written = ensure_token_file(args.path, given)
    except (TokenError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        name = "MCP_AUTH_TOKEN" if isinstance(exc, TokenError) and given else str(args.path)
        print(f"mcp auth token: {name}: {reason}", file=sys.stderr)
        return 1
    if not written:
        print(f"mcp auth token: kept the one in {args.path}")
    else:
        print(f"mcp auth token: wrote {'MCP_AUTH_TOKEN' if given else 'a new one'} to {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
