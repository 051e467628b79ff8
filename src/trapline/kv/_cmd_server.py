"""Server and connection commands: HELLO, AUTH, CLIENT, INFO, CONFIG, COMMAND, TIME, ..."""
