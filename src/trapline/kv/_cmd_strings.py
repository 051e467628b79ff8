"""String commands: GET, SET and friends, counters, ranges, LCS."""
