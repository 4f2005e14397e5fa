"""PSO (SPARC partial store order): TSO's buffer, but stores to different locations
may reach memory in any order.

Any entry may flush unless an older entry writes the same location or a store fence
separates them: the fence puts a barrier bit on the next buffered store, and never
blocks.

>>> MODEL.name, MODEL.reorders_stores, MODEL.flush_name("P", 1)
('pso', True, 'flush(P,1)')
>>> MODEL.internal_entry("flush(P,1)")
1
"""

from __future__ import annotations

from intervm.model.memory.storebuffer import StoreBufferModel


class PSO(StoreBufferModel):
    name = "pso"
    title = "PSO (SPARC partial store order)"
    rank = 2
    summary = ("as TSO, but stores to different locations may also reach memory out "
               "of order unless a store fence separates them")
    reorders_stores = True
    store_barrier = True


MODEL = PSO()
