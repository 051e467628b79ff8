"""SORT and SORT_RO against real Redis, byte for byte."""

import random

import pytest


def test_sort_numbers_and_alpha(differ):
    c = differ.check
    c("RPUSH", "l", "3", "1", "2", "10", "-5", "2.5", "0x10", " 7", "1e2", "inf", "-inf")
    c("SORT", "l")
    c("SORT", "l", "DESC")
    c("SORT", "l", "ALPHA")
    c("SORT", "l", "ALPHA", "DESC")
    c("SORT", "l", "LIMIT", "2", "3")
    c("SORT", "l", "LIMIT", "-5", "3")
    c("SORT", "l", "LIMIT", "2", "-1")
    c("SORT", "l", "LIMIT", "100", "3")
    c("SORT", "l", "LIMIT", "0", "0")
    c("SORT", "l", "DESC", "LIMIT", "1", "2", "ASC")
    c("SORT_RO", "l", "desc", "alpha", "limit", "0", "4")
    c("RPUSH", "bad", "1", "x", "2")
    c("SORT", "bad")
    c("SORT", "bad", "ALPHA")
    for value in ("1 ", "nan", "", "\x001", "1e308", "4.9e-324x"):
        c("DEL", "one")
        c("RPUSH", "one", value, "2")
        c("SORT", "one")
    # Overflow and underflow: Redis tests errno for ERANGE without clearing it first, so a
    # connection that saw one goes on failing until a new connection resets errno; hence one
    # connection each.
    for value in ("1e400", "1e-400", "1e-310"):
        pair = differ.connection()
        c("DEL", "one", on=pair)
        c("RPUSH", "one", value, "2", on=pair)
        c("SORT", "one", on=pair)


def test_sort_ties_and_nul_bytes(differ):
    c = differ.check
    c("RPUSH", "t", "b", "a", "1", "01", "1.0", "a\x00z", "a\x00b", "a", "B")
    c("SORT", "t", "ALPHA")
    c("SORT", "t", "ALPHA", "DESC")
    c("SORT", "t", "ALPHA", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("RPUSH", "n", "1", "01", "1.0", "+1", "2", "0x1")
    c("SORT", "n")
    c("SORT", "n", "DESC")


def test_sort_sets_and_zsets(differ):
    c = differ.check
    c("SADD", "ints", "5", "-3", "100", "7", "0")
    c("SORT", "ints")
    c("SORT", "ints", "BY", "nosort")
    c("SORT", "ints", "BY", "nosort", "LIMIT", "1", "2", "DESC")
    c("SORT", "ints", "BY", "nosort", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("SADD", "words", "pear", "apple", "fig", "banana")
    c("SORT", "words", "ALPHA")
    c("SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "2")
    c("SORT", "words")
    c("SORT", "words", "BY", "nosort", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("ZADD", "z", "3", "c", "1", "a", "2", "b", "2", "bb", "0", "10")
    c("SORT", "z", "ALPHA")
    c("SORT", "z", "BY", "nosort")
    c("SORT", "z", "BY", "nosort", "DESC")
    c("SORT", "z", "BY", "nosort", "LIMIT", "1", "3")
    c("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "3")
    c("SORT", "z", "BY", "nosort", "LIMIT", "9", "3")
    c("SORT", "z", "BY", "nosort", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("SORT", "z")
    # Sorting converts a small sorted set to a skiplist in Redis, for good.
    c("ZADD", "small", "1", "a", "2", "b")
    c("OBJECT", "ENCODING", "small")
    c("SORT_RO", "small", "BY", "nosort")
    c("OBJECT", "ENCODING", "small")
    c("ZADD", "small", "3", "c")
    c("OBJECT", "ENCODING", "small")
    c("DUMP", "small")
    c("COPY", "small", "twin")
    c("OBJECT", "ENCODING", "twin")


def test_sort_by_and_get_patterns(differ):
    c = differ.check
    c("RPUSH", "ids", "1", "2", "3", "4")
    c("MSET", "w_1", "40", "w_2", "10", "w_3", "30", "name_1", "one", "name_2", "two")
    c("HSET", "h_1", "f", "b", "g", "9")
    c("HSET", "h_2", "f", "a", "g", "1")
    c("HSET", "h_3", "f", "c")
    c("SORT", "ids", "BY", "w_*")
    c("SORT", "ids", "BY", "w_*", "DESC")
    c("SORT", "ids", "BY", "w_*", "GET", "#", "GET", "name_*", "GET", "h_*->f")
    c("SORT", "ids", "BY", "h_*->f", "ALPHA")
    c("SORT", "ids", "BY", "h_*->f", "ALPHA", "DESC")
    c("SORT", "ids", "BY", "h_*->g")
    c("SORT", "ids", "BY", "h_*->g", "LIMIT", "0", "2")
    c("SORT", "ids", "BY", "name_*", "ALPHA", "GET", "name_*")
    c("SORT", "ids", "BY", "nosort", "GET", "w_*", "GET", "h_*->", "GET", "fixed")
    c("SORT", "ids", "BY", "nosort", "DESC", "GET", "h_*->g")
    c("SORT", "ids", "GET", "ids")
    c("SORT", "ids", "GET", "#", "GET", "w_*", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("SORT", "ids", "GET", "name_*", "STORE", "dst")
    c("LRANGE", "dst", "0", "-1")
    c("SORT", "ids", "BY", "name_*")
    c("SET", "w_4", "zz")
    c("SORT", "ids", "BY", "w_*")
    c("SORT", "ids", "BY", "*_x", "GET", "*")
    c("SET", "1_x", "5")
    c("SET", "2_x", "-1")
    c("SORT", "ids", "BY", "*_x", "GET", "*")
    c("SORT", "ids", "BY", "w_*\x00x")
    c("SORT", "ids", "BY", "w\x00_*")
    c("SORT", "ids", "GET", "#\x00", "GET", "h_*->f\x00")


def test_sort_store_and_errors(differ):
    c = differ.check
    c("RPUSH", "l", "2", "1")
    c("SET", "dst", "x")
    c("EXPIRE", "dst", "100")
    c("SORT", "l", "STORE", "dst")
    c("TTL", "dst")
    c("TYPE", "dst")
    c("SORT", "missing", "STORE", "dst")
    c("EXISTS", "dst")
    c("SORT", "missing")
    c("SORT", "missing", "BY", "x_*", "GET", "#")
    c("SORT_RO", "l", "STORE", "dst")
    c("SORT", "l", "STORE")
    c("SORT", "l", "LIMIT", "1")
    c("SORT", "l", "LIMIT", "a", "1")
    c("SORT", "l", "LIMIT", "1", "b")
    c("SORT", "l", "BY")
    c("SORT", "l", "GET")
    c("SORT", "l", "BOGUS")
    c("SORT")
    c("SORT_RO")
    c("SET", "str", "1")
    c("HSET", "hash", "a", "1")
    c("SORT", "str")
    c("SORT_RO", "hash")
    c("SORT", "str", "BOGUS")
    c("SORT", "str", "STORE", "dst")
    c("SORT", "l", "STORE", "l")
    c("LRANGE", "l", "0", "-1")


@pytest.mark.parametrize("name", ["sort", "sort_ro"])
def test_sort_command_info(differ, name):
    differ.check("COMMAND", "INFO", name)
    differ.check("COMMAND", "DOCS", name)


def test_command_getkeys_for_sort_and_migrate(differ):
    c = differ.check
    c("COMMAND", "GETKEYS", "SORT", "l")
    c("COMMAND", "GETKEYS", "SORT", "l", "STORE", "dst", "BY", "w_*", "GET", "x")
    c("COMMAND", "GETKEYS", "SORT", "l", "LIMIT", "0", "1", "STORE", "a", "STORE", "b")
    c("COMMAND", "GETKEYS", "SORT", "l", "GET", "store", "STORE")
    c("COMMAND", "GETKEYSANDFLAGS", "SORT", "l", "STORE", "dst")
    c("COMMAND", "GETKEYS", "SORT_RO", "l", "BY", "x")
    c("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "l")
    c("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "10")
    c("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "COPY", "KEYS", "a", "b")
    c("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "AUTH", "keys", "KEYS", "a")
    c("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "AUTH2", "u", "p", "KEYS", "a")
    c("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "10", "KEYS", "a")
    c("COMMAND", "GETKEYSANDFLAGS", "MIGRATE", "h", "1", "", "0", "10", "KEYS", "a", "b")
    c("COMMAND", "GETKEYS", "DUMP", "k")
    c("COMMAND", "GETKEYS", "RESTORE", "k", "0", "x")
    c("COMMAND", "GETKEYS", "WAIT", "0", "0")


def test_sort_by_with_limit_orders_ties_as_redis(differ):
    """BY with LIMIT sorts with Redis's partial quicksort: equal weights come out in its order."""
    c = differ.check
    rng = random.Random(7)
    c("RPUSH", "big", *[f"e{i}" for i in range(120)])
    c("MSET", *[x for i in range(120) for x in (f"w_e{i}", str(rng.randrange(5)))])
    c("RPUSH", "small", *[f"s{i}" for i in range(30)])
    for key, size in (("big", 120), ("small", 30)):
        for start, count in ((0, 10), (5, 3), (size - 4, 10), (40, 41), (1, size), (size, 2)):
            limit = ("LIMIT", start, count)
            c("SORT", key, "BY", "w_*", "ALPHA", *limit)
            c("SORT", key, "BY", "w_*", "ALPHA", "DESC", *limit)
            c("SORT", key, "BY", "nothing_*", "ALPHA", *limit)
            c("SORT", key, "BY", "w_*", *limit)
            c("SORT", key, "BY", "w_*", "ALPHA", *limit, "STORE", "dst")
            c("LRANGE", "dst", "0", "-1")


def test_sort_in_resp3_and_transactions(differ):
    c = differ.check
    for client in differ.main:
        assert client.call("HELLO", "3").startswith(b"%")  # (it holds the connection id)
    c("RPUSH", "l", "2", "1", "3")
    c("SET", "w_1", "x")
    c("SORT", "l", "GET", "w_*", "GET", "#")
    c("SORT", "l", "BY", "nosort", "STORE", "dst")
    c("MULTI")
    c("SORT", "l", "DESC")
    c("SORT", "l", "STORE", "dst2")
    c("SORT", "bad", "LIMIT", "x", "1")
    c("LRANGE", "dst2", "0", "-1")
    c("EXEC")
    c("DUMP", "dst2")
    c("WAIT", "0", "0")
