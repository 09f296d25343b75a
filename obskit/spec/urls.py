"""URLs in the spec: they are committed in the generated files (Alertmanager's configuration, the
engines' ConfigMaps, every alert's annotations), so they may carry no credential."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from obskit.shown import shown

# Query parameters that carry a credential in the APIs alerts and backups talk to (Slack, Google
# Chat, GitLab, Azure SAS and Functions, S3 and GCS presigned URLs), compared without case.
_SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "auth",
        "auth_token",
        "private_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "sig",
        "signature",
        "code",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
_SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "api_key", "api-key", "signature")
# Characters a URL never holds unencoded (RFC 3986), several of which mean something where obskit
# writes URLs: braces to Go templates, angle brackets and spaces to Markdown, quotes to YAML.
_NOT_IN_URL = re.compile(r"[\s\"<>\\^`{|}\x00-\x1f\x7f]")

SECRET_HINT = (
    "the URL is committed in the generated files; keep the credential in a Kubernetes Secret and "
    "reference it instead (a webhook receiver: url_secret: {secret: <Secret name>, key: <key>})"
)


def credentials_problem(url: str, hint: str = SECRET_HINT) -> str | None:
    """Why `url` would leak a credential (user:password@, a token in the query), or None."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return f"{_redacted(url)} holds credentials before '@' (user:password@ or token@): {hint}"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        lowered = name.lower()
        if lowered in _SECRET_PARAMS or lowered.endswith(_SECRET_SUFFIXES):
            return f"{_redacted(url)} has the credential parameter {shown(name)} in its query: {hint}"
    return None


HOST_PORT = re.compile(r"[^\s:@/]+:[0-9]+")


def smarthost_problem(smarthost: str) -> str | None:
    """An SMTP server as Alertmanager's email integration takes it: host:port, never user@."""
    if "@" in smarthost:
        return (
            f"{shown(smarthost.rpartition('@')[2])} holds credentials before '@': give host:port, the user as "
            "auth_username and the password as auth_password ({secret: <Secret name>, key: <key>})"
        )
    if not HOST_PORT.fullmatch(smarthost):
        return f"{shown(smarthost)} must be host:port, e.g. smtp.example.com:587"
    return None


def character_problem(url: str) -> str | None:
    found = _NOT_IN_URL.search(url)
    if found:
        return (
            f"{shown(url)} holds {shown(found.group())}, which a URL never holds unencoded: "
            "percent-encode it (e.g. %20 for a space, %7B for '{')"
        )
    return None


def _redacted(url: str) -> str:
    """The URL as a message may quote it: no userinfo, no query values (they may be the secret)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{name}=..." for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    shown = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    return repr(shown)
