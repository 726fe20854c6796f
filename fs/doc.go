// Package fs is the FUSE side of mastfs: it turns paths into MAST queries and
// products into files, with go-fuse's fs API.
//
// Data flow: mount → path → query → product listing → file → block reader →
// cache → range fetch.
//
//   - Paths are parsed by pure functions (querypath.go) into an immutable
//     QuerySpec. Segment order does not matter: the spec's Key is canonical,
//     so two spellings of one query share one listing and one inode.
//   - A query directory (query_dir.go) runs its query when it is first
//     listed or a product is looked up, never when it is merely traversed,
//     so descending criteria/a=1/b=2/ costs nothing until it is read.
//   - Listings are cached for --query-ttl and fetched once however many
//     readers ask (single flight on a detached context: one reader's
//     interrupt does not cancel a listing others wait for).
//   - A product file's inode number is a hash of its identity (dataURI and
//     size), so the same product is the same inode on every path and the
//     kernel page cache and our block cache are shared.
//   - Reads go through a consumer-defined Reader interface (block cache in
//     front of S3 or the MAST download service); this package never speaks
//     HTTP itself.
//   - Every error reaches the kernel through one function, toErrno.
//   - The mount is read-only at the kernel level ("ro"), so writes fail with
//     EROFS before they reach us; the node methods that could write return
//     EROFS as well, for callers that bypass the kernel check.
package fs
