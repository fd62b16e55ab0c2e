"""Closed-form constructions of the paper's theory (Sections 3 and 4)."""
