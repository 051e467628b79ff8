"""Hash commands: HSET, HGET, HGETALL, HINCRBY, HSCAN, ..."""
