"""Sorted set commands: ZADD, ZRANGE, ZUNIONSTORE, BZPOPMIN, ..."""
