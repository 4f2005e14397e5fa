"""intervm: make inter-VM shared-memory protocols trustworthy.

>>> from intervm.spec.protocols import builtin_protocols
>>> sorted(p.name for p in builtin_protocols())[:1]
['coalescing']
"""

__version__ = "0.1.0"
