"""Subcommands of the ``intervm`` CLI, one module each.

>>> from intervm.commands.run import run
>>> run.name
'run'
"""
