"""The persistent symbol index of an upstream tree, the workers that fill it, and lookups of a reference through it."""
