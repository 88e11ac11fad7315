"""Credentials are masked wherever they appear in text concur writes (issue 14); user
names, hosts and databases stay readable. Pure: strings in, strings out."""

from __future__ import annotations

import json

import pytest

from profiler.files import write_atomic
from profiler.redact import command_line, redact
from profiler.report.markdown import code, text


@pytest.mark.parametrize(("raw", "masked"), [
    ("postgresql://postgres:s3cret@127.0.0.1:5432/test", "postgresql://postgres:***@127.0.0.1:5432/test"),
    ("--dsn=postgresql://app:s3cret@db/prod", "--dsn=postgresql://app:***@db/prod"),
    ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unencoded @ in the password
    ("host=h user=u password=s3cret dbname=d", "host=h user=u password=*** dbname=d"),
    ("host=h password='se cret' dbname=d", "host=h password='***' dbname=d"),
    ("postgresql://h/db?sslmode=require&password=s3cret&x=1", "postgresql://h/db?sslmode=require&password=***&x=1"),
    ("{'password': 's3cret', 'user': 'u'}", "{'password': '***', 'user': 'u'}"),
    ('{"db_password": "s3cret"}', '{"db_password": "***"}'),
    ('{\\"password\\": \\"s3cret\\"}', '{\\"password\\": \\"***\\"}'),  # inside a JSON string
    ("PGPASSWORD=s3cret psql", "PGPASSWORD=*** psql"),
    ("api_key=abc123 token=t0k", "api_key=*** token=***"),
])
def test_a_credential_is_masked(raw, masked):
    assert redact(raw) == masked
    assert redact(masked) == masked  # idempotent: redacting twice changes nothing


@pytest.mark.parametrize("plain", [
    "postgresql://postgres@127.0.0.1:5432/test",  # no password: nothing to hide
    "https://example.com:8080/a@b",  # a port is not a password
    "unexpected token: '}'",  # prose about tokens is not a secret
    "tokens=5 bypass=1",
    "threads×16: 1,234 records/s",
])
def test_text_without_a_credential_is_unchanged(plain):
    assert redact(plain) == plain


def test_a_command_line_is_redacted_argument_by_argument():
    line = command_line(["concur", "run", "jobs.py:handle", "--dsn", "host=h password='a b'"])
    assert "a b" not in line and "password=" in line and line.startswith("concur run jobs.py:handle")


def test_every_text_file_is_redacted_on_its_way_to_disk(tmp_path):
    path = write_atomic(tmp_path / "results.json",
                        json.dumps({"command": "concur run x --dsn postgresql://u:s3cret@h/db"}))
    assert json.loads(path.read_text())["command"] == "concur run x --dsn postgresql://u:***@h/db"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left


def test_markdown_text_is_never_markup():
    assert text("<script>x</script> *b* [l](u) a|b") == \
        "&lt;script&gt;x&lt;/script&gt; \\*b\\* \\[l\\](u) a\\|b"
    assert code("run `x` now") == "``run `x` now``"
    assert code("`x`") == "`` `x` ``"
