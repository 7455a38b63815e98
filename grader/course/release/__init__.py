"""Making a release: answer keys, question tests, the atomic release, its checks, the exchange, validation and `calcgrade init`. Depends on the base modules and sandbox/."""
