"""The request parser returns the same commands however the bytes are split, whether the
pipeline fast path or the general parser handles them."""

import random

import pytest

from trapline.kv._resp import ProtocolError, RequestParser, split_args


def _encode(args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def _random_arg(rng):
    kind = rng.random()
    if kind < 0.1:
        return b""
    if kind < 0.2:
        return b"a\r\nb"  # CRLF inside an argument: the fast path must step aside
    if kind < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    return b"x" * rng.randrange(1, 100)


def test_every_split_of_a_random_pipeline_parses_the_same():
    rng = random.Random(1125)
    for _ in range(200):
        commands = [
            [b"SET"] + [_random_arg(rng) for _ in range(rng.randrange(0, 5))]
            for _ in range(rng.randrange(1, 30))
        ]
        data = b"".join(_encode(args) for args in commands)
        parser = RequestParser()
        got = []
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 2, 7, 64, 500, 4096])
            parser.feed(data[pos : pos + step])
            pos += step
            while (argv := parser.next_command()) is not None:
                got.append(argv)
            # Headers of a partly received command may already be taken apart; never more.
            assert parser.buffered() <= len(data[:pos]) - sum(len(_encode(a)) for a in got)
        assert got == commands


def _random_request(rng):
    """A command as some client might send it: multibulk (any size), inline, or empty."""
    args = [b"SET"] + [_random_arg(rng) for _ in range(rng.randrange(0, 5))]
    kind = rng.random()
    if kind < 0.1:
        return [], b"*0\r\n"
    if kind < 0.2:
        words = [b"SET"] + [b"w%d" % rng.randrange(1000) for _ in range(rng.randrange(0, 4))]
        if rng.random() < 0.3:  # a quoted word with a space in it
            words.append(b"q %d" % rng.randrange(10))
            line = b" ".join(words[:-1]) + b' "' + words[-1] + b'"'
        else:
            line = b" ".join(words)
        return words, line + rng.choice([b"\r\n", b"\n"])
    if kind < 0.3:  # longer than the fast path takes
        args.append(b"y" * rng.randrange(4000, 5000))
    return args, _encode(args)


def _same_shape_request(rng):
    """Commands of one shape (as benchmarks and bulk loads send): the column-wise fast path."""
    args = [b"SET", _random_arg(rng), b"v"] if rng.random() < 0.2 else [b"SET", b"key", b"v"]
    return args, _encode(args)


@pytest.mark.parametrize("make", [_random_request, _same_shape_request])
def test_take_returns_what_next_command_returns_with_give_back_anywhere(make):
    rng = random.Random(2511)
    for _ in range(300):
        requests = [make(rng) for _ in range(rng.randrange(1, 30))]
        expected = [args for args, _ in requests if args]
        sizes = [len(encoded) for args, encoded in requests if args]
        data = b"".join(encoded for _, encoded in requests)
        parser = RequestParser()
        got = []
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 2, 7, 64, 500, 4096])
            parser.feed(data[pos : pos + step])
            pos += step
            while commands := parser.take():
                # A command may make the rest parse differently (RESET): some run, the rest
                # go back and come again.
                done = rng.randrange(1, len(commands) + 1)
                if done < len(commands) and rng.random() < 0.5:
                    parser.give_back(done)
                    commands = commands[:done]
                got.extend(commands)
            assert parser.buffered() <= len(data[:pos]) - sum(sizes[: len(got)])
        assert got == expected


def test_take_runs_the_commands_before_bad_input_then_raises():
    parser = RequestParser()
    parser.feed(_encode([b"SET", b"a", b"1"]) + b"PING\r\n*1\r\n$x\r\n")
    assert parser.take() == [[b"SET", b"a", b"1"], [b"PING"]]
    try:
        parser.take()
    except ProtocolError as error:
        assert str(error) == "Protocol error: invalid bulk length"
    else:
        raise AssertionError("expected a protocol error")


def test_give_back_reparses_with_the_new_limits():
    big = b"x" * 20000
    parser = RequestParser()
    parser.feed(_encode([b"RESET"]) + _encode([b"SET", b"k", big]))
    assert parser.take() == [[b"RESET"], [b"SET", b"k", big]]
    parser.auth_required = True  # RESET made the client unauthenticated
    parser.give_back(1)
    try:
        parser.take()
    except ProtocolError as error:
        assert str(error) == "Protocol error: unauthenticated bulk length"
    else:
        raise AssertionError("expected a protocol error")


def test_inline_lines_without_quotes_split_as_with_quotes():
    # Unquoted lines take a shortcut; a quoted empty word at the end forces the full
    # sdssplitargs rules, which must agree on everything before it.
    rng = random.Random(6)
    alphabet = b"ab \t\r\n\x0b\x0c\\x0"
    for _ in range(20000):
        line = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        assert split_args(line + b" ''") == [*split_args(line), b""], line
