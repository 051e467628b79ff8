"""Set commands: SADD, SINTER, SUNIONSTORE, SSCAN, ..."""
