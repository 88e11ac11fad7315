"""Credentials never leave concur: every text it writes or prints passes through `redact`.

People upload concur's folders as CI artifacts and paste its output into pull requests,
and a run is often pointed at a database or a broker by a URL that holds a password
(`--dsn postgresql://app:s3cret@db/prod`, `CONCUR_DSN`, a driver's error message quoting
its connection string). So the command line kept for "Reproduce", error messages, trial
errors, and every text file concur writes (`files.write_atomic`) are redacted here, in
the lowest layer, where nothing can go around it.

What is masked (with `***`), wherever it appears in a text:
- the password of a URL's user info: `scheme://user:PASSWORD@host` (Redis' `redis://:PASSWORD@`);
- the value of a secret-looking key in key-value text: `password=…`, `passwd`, `pwd`,
  `secret`, `token`, `api_key`/`apikey`, `access_key`, with any prefix (`sslpassword`,
  `PGPASSWORD`, `db_password`), as `key=value`, `'key': 'value'` or JSON's
  `"key": "value"`, the value quoted or not.
User names, hosts, ports and database names stay: they are what a reader needs to know
which database a run measured.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

MASK = "***"

# scheme://user:password@ — the password runs to the last '@' before the host (an
# unencoded '@' in a password is common), never across a '/', a quote or whitespace.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*:)(?P<secret>[^\s/'\"]*)@")
_KEY = r"(?:ssl)?password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
# `key=value` (conninfo, query strings, environment) or a quoted key and ':' (JSON, a dict's
# repr, possibly backslash-escaped inside JSON), then a quoted value or a bare word that
# ends at whitespace or a separator. A bare `key: value` is prose ("unexpected token: '}'").
_KEY_VALUE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_])[A-Za-z0-9_]*?(?:" + _KEY + r")(?:\s*=|\\?[\"']\s*:)\s*)"
    r"(?P<secret>\\?\"(?:[^\"\\]|\\[^\"])*\\?\"|'[^']*'|[^\s&;,'\"\\)}\]]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `***` (see the module docstring)."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _KEY_VALUE.sub(_mask_value, text)


def _mask_value(m: re.Match[str]) -> str:
    secret = m["secret"]
    if secret.startswith(("\\\"", "\"", "'")):  # keep the quotes: the text stays valid
        quote = "\\\"" if secret.startswith("\\\"") else secret[0]
        return f"{m['head']}{quote}{MASK}{quote}"
    if secret == MASK:
        return m.group(0)
    return f"{m['head']}{MASK}"


def command_line(argv: Iterable[str]) -> str:
    """A command as a shell would take it back, each argument redacted before quoting."""
    return shlex.join(redact(arg) for arg in argv)
