"""Answer keys: the wire form of answers, key entries and ``grade()``, public fingerprints.

Built on the comparison core only; used by the notebook layer (self-check) and the course layer
(key building, trusted grading).
"""
