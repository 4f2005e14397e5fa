"""x86-TSO (Owens, Sarkar, Sewell): one FIFO store buffer per process.

Only the oldest entry may flush, so stores reach memory in program order; a store
fence orders nothing that is not already ordered.

>>> MODEL.name, MODEL.reorders_stores, MODEL.flush_name("P", 0), MODEL.internal_entry("flush(P)")
('tso', False, 'flush(P)', None)
"""

from __future__ import annotations

from intervm.model.memory.storebuffer import StoreBufferModel


class TSO(StoreBufferModel):
    name = "tso"
    title = "x86-TSO"
    rank = 1
    summary = ("a FIFO store buffer per process: a load may pass an older store to "
               "another location")
    reorders_stores = False
    store_barrier = False


MODEL = TSO()
