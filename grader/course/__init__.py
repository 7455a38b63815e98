"""The instructor's course cycle: keys, release, validation, autograding, the sample class, the demo."""
