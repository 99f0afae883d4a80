"""Test tasks that misbehave on purpose, to provoke each kind of trial failure for real."""
