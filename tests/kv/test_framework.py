"""The kv server's framework: dispatch errors and protocol handling match Redis byte for byte."""

import pytest


def test_ping_echo_select_and_unknown_commands(differ):
    differ.check("PING")
    differ.check("ping", "hello")
    differ.check("ECHO", "x y")
    differ.check("SELECT", "3")
    differ.check("SELECT", "99")
    differ.check("SELECT", "abc")
    differ.check("NOSUCHCOMMAND", "a", "b")
    differ.check("nosuch")
    differ.check("ECHO")
    differ.check("PING", "a", "b")


@pytest.mark.parametrize(
    "line",
    [b"PING", b'ECHO "hello world"', b"ECHO 'it''s'", b'ECHO "a\\x41\\n"', b"nosuch 1 2"],
)
def test_inline_commands(differ, line):
    differ.check_inline(line)
