"""List commands, including the blocking BLPOP family."""
