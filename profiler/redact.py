"""Credentials never leave concur: every text it writes or prints passes through `redact`.

People upload concur's folders as CI artifacts and paste its output into pull requests,
and a run is often pointed at a database or a broker by a connection string that holds a
password (`--dsn postgresql://app:s3cret@db/prod`, `CONCUR_DSN`, a driver's error message
quoting it). So the command line kept for "Reproduce", error messages, trial errors, a
handler's captured output, every text file concur writes (`files.write_atomic`) and
everything the CLI prints are redacted here, in the lowest layer, where nothing can go
around it.

Connection strings are parsed, not matched by a pattern that stops early: generated
passwords (base64, URL-safe tokens) hold `/`, `+`, `=`, and people type `@`, `:`, `?`,
`#` unencoded. What is masked (with `***`), wherever it appears in a text:
- the password of a URL's user info, `scheme://user:PASSWORD@host`: everything between
  the user's `:` and the LAST `@` of the URL (a URL ends at whitespace, a quote, `<`,
  `>` or a backtick), whatever it holds; Redis' `redis://:PASSWORD@host` too. The one
  reading kept as it is: `host.name:8080/path@x`, a host with a port and an `@` later in
  the path;
- the value of a secret-looking key in key-value text: `password=…`, `passwd`, `pwd`,
  `secret`, `token`, `api_key`/`apikey`, `access_key`, with any prefix (`sslpassword`,
  `PGPASSWORD`, `db_password`), as `key=value`, `'key': 'value'` or JSON's
  `"key": "value"`; a bare value runs to whitespace (a query parameter to the next `&`), a quoted
  one to its closing quote (libpq's `\\'` escapes included);
- every password concur was handed (`remember`: the `--dsn` and other arguments of the
  command line, `CONCUR_DSN` in the environment), wherever else it shows up, and every
  piece of it of 4 characters or more that a parser could cut at its delimiters, decoded
  or not (`pieces`): a driver that misreads a URL quotes fragments of it (`invalid
  integer value "Zm9vYmFy" for connection option "port"`, `invalid URI query parameter:
  "#x9+"`). A password that also is the user's, host's or database's
  name (`postgres:postgres`) is visible as that name anyway and is not hunted elsewhere.
User names, hosts, ports and database names stay: they are what a reader needs to know
which database a run measured.
"""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MASK = "***"
MIN_PIECE = 4  # a remembered password's fragments this long or longer are masked anywhere
DSN_ENV = "CONCUR_DSN"

# A URL: scheme://, then everything up to whitespace, a quote, <, > or a backtick.
_URL = re.compile(r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>`]*)")
_PORT_THEN_PATH = re.compile(r"\d{1,5}(?:[/?#]|$)")
_KEY = r"(?:ssl)?password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
# `key=value` (conninfo, query strings, environment) or a quoted key and ':' (JSON, a dict's
# repr, possibly backslash-escaped inside JSON), then a quoted value or a bare word that
# runs to whitespace or the end of a query parameter. A bare `key: value` is prose
# ("unexpected token: '}'").
_KEY_VALUE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_])[A-Za-z0-9_]*?(?:" + _KEY + r")(?:\s*=|\\?[\"']\s*:)\s*)"
    r"(?P<secret>\\\"(?:[^\"\\]|\\[^\"])*\\\"|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|[^\s'\"\\<>]+)",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"[/?#@:&=+;,\s]")
_learned: set[str] = set()
_env_seen: list[str | None] = [None]


@dataclass(frozen=True)
class DsnParts:
    """What a connection string names, the password apart (None where it says nothing)."""

    scheme: str | None
    user: str | None
    password: str | None
    host: str | None
    port: str | None
    database: str | None


def parse_dsn(dsn: str) -> DsnParts:
    """A URL (`scheme://user:password@host:port/db?…`) or a libpq key-value DSN
    (`host=… password='…' dbname=…`), read as `redact` reads it."""
    dsn = dsn.strip()
    found = _URL.match(dsn)
    if found:
        userinfo, hostpart = _split_userinfo(found["rest"])
        user, password = (userinfo.split(":", 1) + [None])[:2] if userinfo is not None else (None, None)
        netloc, _, path = hostpart.partition("/")
        path = re.split(r"[?#]", path, maxsplit=1)[0]
        host, port = netloc, None
        if netloc.startswith("["):  # [::1]:5432
            host, _, tail = netloc[1:].partition("]")
            port = tail[1:] or None
        elif ":" in netloc:
            host, port = netloc.rsplit(":", 1)
        return DsnParts(found["scheme"][:-3], user or None, password, host or None, port,
                        urllib.parse.unquote(path) or None)
    pairs = {k.lower(): _unquote(v) for k, v in
             re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)}
    return DsnParts(None, pairs.get("user"), pairs.get("password"), pairs.get("host") or pairs.get("hostaddr"),
                    pairs.get("port"), pairs.get("dbname"))


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(user info, what follows it) of a URL after `scheme://`: the user info runs to the
    last `@`, unless that reading makes a host's port the start of a password."""
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    userinfo = rest[:at]
    user, colon, password = userinfo.partition(":")
    if colon and "." in user and "/" not in user and _PORT_THEN_PATH.match(password):
        return None, rest  # `example.com:8080/a@b`: a host, a port, an @ in the path
    if not colon and re.search(r"[/?#]", userinfo):
        return None, rest  # `host/path@x`: no user info at all
    return userinfo, rest[at + 1:]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _passwords(text: str) -> Iterator[str]:
    """Every password `redact` would mask in `text`, as written there."""
    for m in _URL.finditer(text):
        userinfo, _ = _split_userinfo(m["rest"])
        if userinfo is not None and ":" in userinfo:
            yield userinfo.split(":", 1)[1]
    for m in _KEY_VALUE.finditer(text):
        secret = m["secret"]
        if secret[:1] not in "\"'\\":
            secret = _bare_value(m)[0]
        yield _unquote(secret.strip('"\\')) if secret[:1] in "\"\\" else _unquote(secret)


def remember(text: str | None) -> None:
    """Learn the passwords `text` holds (a DSN, a command-line argument), so that they and
    their fragments are masked wherever they appear later in this process."""
    if not text:
        return
    for secret in _passwords(text):
        if secret == MASK or len(secret) < MIN_PIECE:
            continue
        public = _structural(text)  # user, host, database: shown anyway
        for form in {secret, urllib.parse.unquote(secret)}:
            for piece in pieces(form):
                if piece not in public and MASK not in piece:
                    _learned.add(piece)


def pieces(secret: str) -> set[str]:
    """Every part of `secret` a parser could cut out of it at its delimiters (`/ ? # @ : &
    = + ; ,`), with or without the delimiter, MIN_PIECE characters or longer: libpq reading
    `user:p@ss:w/rd?#x9+=…` as a URL quotes `#x9+` as a query parameter's name."""
    cuts = {0, len(secret)}
    for m in _DELIMITER.finditer(secret):
        cuts |= {m.start(), m.end()}
    ordered = sorted(cuts)
    return {secret[i:j] for i in ordered for j in ordered if j - i >= MIN_PIECE}


def _learn_environment() -> None:
    """The run's DSN reaches trial children through the environment: learn it there too."""
    value = os.environ.get(DSN_ENV)
    if value != _env_seen[0]:
        _env_seen[0] = value
        remember(value)


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `***` (see the module docstring)."""
    if not text:
        return text
    _learn_environment()
    text = _structural(text)
    for secret in sorted(_learned, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _structural(text: str) -> str:
    """The passwords that the text's own shape gives away (URL user info, secret keys)."""
    return _KEY_VALUE.sub(_mask_value, _URL.sub(_mask_url, text))


def _mask_url(m: re.Match[str]) -> str:
    userinfo, tail = _split_userinfo(m["rest"])
    if userinfo is None or ":" not in userinfo:
        return m.group(0)
    user = userinfo.split(":", 1)[0]
    return f"{m['scheme']}{user}:{MASK}@{tail}"


def _mask_value(m: re.Match[str]) -> str:
    secret = m["secret"]
    if secret.startswith(("\\\"", "\"", "'")):  # keep the quotes: the text stays valid
        quote = "\\\"" if secret.startswith("\\\"") else secret[0]
        return f"{m['head']}{quote}{MASK}{quote}"
    secret, rest = _bare_value(m)
    if secret == MASK:
        return m.group(0)
    return f"{m['head']}{MASK}{rest}"


def _bare_value(m: re.Match[str]) -> tuple[str, str]:
    """An unquoted value and what follows it in the same word: a query parameter ends at
    the next `&`; a value after `"key":` (JSON, a dict's repr) at `,;)}]`; a `key=value`
    (conninfo, the environment) runs to whitespace, since a password may hold them all."""
    secret = m["secret"]
    if m.start() > 0 and m.string[m.start() - 1] in "?&":
        end = secret.find("&")
    elif m["head"].rstrip().endswith(":"):
        end = next((i for i, c in enumerate(secret) if c in ",;)}]"), -1)
    else:
        end = -1
    return (secret, "") if end < 0 else (secret[:end], secret[end:])


def command_line(argv: Iterable[str]) -> str:
    """A command as a shell would take it back, each argument redacted before quoting (and
    its passwords remembered: see `remember`)."""
    args = list(argv)
    for arg in args:
        remember(arg)
    return shlex.join(redact(arg) for arg in args)
