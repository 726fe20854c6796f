// Package cache is mastfs's in-memory block cache.
//
// Objects are read in fixed-size blocks. A block is identified by the
// object's identity key (chosen by the caller: for a MAST product it is the
// dataURI plus size plus ETag, so a reprocessed product never hits old
// blocks) and the block index. Blocks live in a ristretto cache whose cost is
// the block length, so one byte budget bounds memory.
//
// Design decisions:
//   - One fetch per block is in flight at a time (single flight). Readers that
//     want a block being fetched wait for it; each waiter honours its own
//     context, but the fetch itself runs on a detached context, so one
//     reader's interrupt does not cancel a block that others are waiting for.
//   - The package knows nothing of MAST or FUSE: the caller passes a Fetch
//     function that fills one block from wherever the bytes live.
//   - Blocks in flight are counted against the same budget as cached blocks;
//     a reader that would exceed it waits instead of allocating.
package cache
