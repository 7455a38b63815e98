"""`calcgrade demo`: the sample class and one whole course cycle on it. The top of the course layer."""
