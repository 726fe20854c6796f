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
//     function that fills one block from wherever the bytes live, and
//     optionally FetchBlocks, which fills a run of consecutive blocks with one
//     request (a prefetch span of SpanBytes, 2 MiB by default: one S3 GET
//     instead of eight).
//   - Blocks in flight are counted against the same budget as cached blocks;
//     a reader that would exceed it waits instead of allocating, and
//     prefetch never waits.
//   - Block memory is reused, never freshly allocated per block. On the VMs
//     mastfs was measured on, first-touching fresh memory cost more CPU than
//     the network transfer (docs/benchmarks.md). Buffers come from an arena
//     of MADV_HUGEPAGE slabs with a free list, and each block carries a
//     reference count: the cache holds one, every reader copying out of it
//     (or handing it to the kernel) holds one, and the buffer returns to the
//     free list only when the last one is dropped. Eviction therefore never
//     recycles memory under a reader.
//   - Reads say how they use the cache (Mode). Sequential streams use
//     Streaming: a block they have consumed leaves the cache (drop-behind),
//     because the kernel's page cache already holds it; the stream's next
//     prefetch reuses the buffer, so a long read runs in a few megabytes of
//     warm memory. Random readers use Direct: a range no block covers is
//     fetched as exactly the bytes asked for into the caller's buffer, so a
//     64 KiB random read costs one 64 KiB request, not a 256 KiB block.
//   - Pin returns a read as slices of the pinned blocks, so the FUSE layer
//     can write them to the kernel with one writev and no user-space copy.
//   - A panic in a fetch function (which runs on a background goroutine)
//     becomes an error wrapping ErrPanic, not a crash of the mount.
package cache
