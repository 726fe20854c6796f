package fs

// Product identity on the read path (contract §4).
//
// A product's blocks are cached under its identity: dataURI, size and, when
// the bytes come from the bucket, the object's ETag as the open saw it.
// The ETag is learned at open (the locator's answer, one path_lookup and
// one HEAD the first time) and held by the file handle, so every read of
// one open file asks for that version: the S3 GET carries If-Match, and a
// replaced object gives ESTALE, never bytes of the new version. A later
// open learns the new ETag (the source forgets the old location when it
// sees the change), reads under a new cache key, and is not given
// FOPEN_KEEP_CACHE, so the kernel drops the inode's old pages.
//
// O_DIRECT opens get FOPEN_DIRECT_IO: no page cache, every read reaches
// mastfs (the block cache still serves it).

import (
	"context"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// versionedSource is a Source that knows object versions (ETags); package
// cloud's *Source satisfies it.
type versionedSource interface {
	// ETag is the version of uri that a read would get now, "" when unknown.
	ETag(ctx context.Context, uri string) string
	// ReadAtVersion reads that version only: a different one is an error
	// wrapping mast.ErrChanged.
	ReadAtVersion(ctx context.Context, uri string, p []byte, off, size int64, etag string) (int, error)
}

// blockIdentity is the cache key of a product's blocks.
func blockIdentity(uri string, size int64, etag string) string {
	return fmt.Sprintf("%s\x00%d\x00%s", uri, size, etag)
}

// openVersion learns the version an open reads and whether the kernel may
// keep the inode's pages from earlier opens (only if the version is the
// one they were read under).
func (f *productFile) openVersion(ctx context.Context) (etag string, keep bool) {
	if vs, ok := f.m.source.(versionedSource); ok {
		etag = vs.ETag(ctx, f.p.URI)
	}
	f.etagMu.Lock()
	defer f.etagMu.Unlock()
	keep = f.etag == etag
	if !keep {
		f.m.log.Debug("product version changed since the last open; dropping its pages",
			"uri", f.p.URI, "was", f.etag, "now", etag)
	}
	f.etag = etag
	return etag, keep
}

// openFlags are the FOPEN flags of a product open.
// O_DIRECT gets FOPEN_DIRECT_IO, and keeps FOPEN_KEEP_CACHE when the
// version is unchanged: without it the kernel would drop the pages other
// opens of the inode read.
func openFlags(flags uint32, keep bool) uint32 {
	var out uint32
	if flags&syscall.O_DIRECT != 0 {
		out |= fuse.FOPEN_DIRECT_IO
	}
	if keep {
		out |= fuse.FOPEN_KEEP_CACHE
	}
	return out
}
