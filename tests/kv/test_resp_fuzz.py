"""The request parser returns the same commands however the bytes are split, whether the
pipeline fast path or the general parser handles them."""

import random

from trapline.kv._resp import RequestParser


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
