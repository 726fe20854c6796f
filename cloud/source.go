package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mastfs/mastfs/mast"
)

// Fallback is the MAST download service; *mast.Client satisfies it.
type Fallback interface {
	ReadAt(ctx context.Context, uri string, p []byte, off int64) (int, error)
	ReadAtSize(ctx context.Context, uri string, p []byte, off, size int64) (int, error)
	Open(ctx context.Context, uri string) (io.ReadCloser, error)
	Head(ctx context.Context, uri string) (mast.ObjectInfo, error)
}

// Source reads product bytes from the bucket for products the Locator
// places there, and from MAST otherwise (--cloud auto). It falls back to
// MAST when locating fails, when the object's size differs from the size
// the product was listed with, and when an S3 read fails; the caller sees
// an error only if MAST fails too (or its own context ends). Whole-product
// streams (Open, products of unknown size) and Head come from MAST, which
// is authoritative for what exists. After a failure (locating or reading)
// a product's reads go straight to MAST for AvoidFor, so an unreachable
// bucket costs one failed attempt per product and minute, not one per block.
type Source struct {
	s3   *Client
	loc  *Locator
	mast Fallback
	log  *slog.Logger

	s3Reads, fallbacks atomic.Int64

	mu    sync.Mutex
	avoid map[string]time.Time // data URI -> until when S3 is not tried
}

// AvoidFor is how long a product's reads skip S3 after an S3 failure.
const AvoidFor = time.Minute

// NewSource reads through s3 for what loc places in the bucket, else mast.
func NewSource(s3 *Client, loc *Locator, mast Fallback, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{s3: s3, loc: loc, mast: mast, log: log, avoid: map[string]time.Time{}}
}

// SourceStats counts where reads went.
type SourceStats struct {
	S3Reads   int64 // ReadAt calls answered from the bucket
	Fallbacks int64 // reads of located products that went to MAST after all
}

// Stats returns the counters.
func (s *Source) Stats() SourceStats {
	return SourceStats{S3Reads: s.s3Reads.Load(), Fallbacks: s.fallbacks.Load()}
}

// location is where uri is in the bucket, learning it (one path_lookup and
// one HEAD) on the first read of a product nobody located before.
func (s *Source) location(ctx context.Context, uri string) (Location, bool) {
	if loc, found, known := s.loc.CachedLocation(uri); known {
		return loc, found
	}
	locs, err := s.loc.Lookup(ctx, []string{uri})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cloud: cannot locate product, reading from MAST", "uri", uri, "err", err)
			s.setAvoid(uri)
		}
		return Location{}, false
	}
	loc, ok := locs[uri]
	return loc, ok
}

// ETag is the ETag of the object that holds uri in the bucket, locating
// it if nobody did (one path_lookup and one HEAD); "" when the product is
// not in the bucket or cannot be located now. The fs asks at open and
// passes the answer to ReadAtVersion, so that every read of one open file
// is of one version and blocks are cached under that version.
func (s *Source) ETag(ctx context.Context, uri string) string {
	if s.avoided(uri) {
		return ""
	}
	loc, found := s.location(ctx, uri)
	if !found {
		return ""
	}
	return loc.ETag
}

// ReadAtVersion is ReadAtSize of the version of uri with the given ETag
// (from ETag; "" is ReadAtSize). The S3 GET carries If-Match, and a
// located object with another ETag is not read: both give an error
// wrapping mast.ErrChanged (the fs answers ESTALE), and the location is
// forgotten so that the next open learns the new version.
func (s *Source) ReadAtVersion(ctx context.Context, uri string, p []byte, off, size int64, etag string) (int, error) {
	if etag == "" {
		return s.ReadAtSize(ctx, uri, p, off, size)
	}
	if n, ok, err := s.readS3Version(ctx, uri, p, off, size, etag); ok {
		return n, err
	}
	return s.mast.ReadAtSize(ctx, uri, p, off, size)
}

// ReadBlocks fills consecutive buffers of one version of uri (see
// Client.ReadBlocks) with one S3 request when the product is in the bucket,
// calling filled(i) as each is complete. Products that are not are read
// from MAST one buffer at a time. The client retries and resumes broken
// answers; a read that fails after that does not fall back here: the
// caller fetches the unfilled buffers again, and those reads go to MAST
// (the product is avoided for AvoidFor).
func (s *Source) ReadBlocks(ctx context.Context, uri string, off, size int64, etag string, bufs [][]byte, filled func(i int)) error {
	loc, ok, err := s.s3Target(ctx, uri, size, etag)
	if err != nil {
		return err
	}
	if ok {
		err := s.s3.ReadBlocks(ctx, loc.Key, etag, off, bufs, filled)
		switch {
		case err == nil:
			s.s3Reads.Add(1)
			return nil
		case errors.Is(err, mast.ErrChanged):
			s.loc.Forget(uri)
			return err
		case ctx.Err() == nil:
			s.fallbacks.Add(1)
			s.setAvoid(uri)
			s.log.Warn("cloud: S3 read failed, reading from MAST", "uri", uri, "key", loc.Key, "off", off, "err", err)
		}
		return err
	}
	for i, b := range bufs {
		if _, err := s.mast.ReadAtSize(ctx, uri, b, off, size); err != nil {
			return err
		}
		off += int64(len(b))
		filled(i)
	}
	return nil
}

// s3Target is where the bucket holds uri's version etag ("" any) of size
// bytes (-1 any). ok is false when the read should go to MAST (not
// located, avoided after a failure, or an object of another size); an
// object of another ETag is an error wrapping mast.ErrChanged, never a
// reason to read other bytes from MAST.
func (s *Source) s3Target(ctx context.Context, uri string, size int64, etag string) (loc Location, ok bool, err error) {
	if s.avoided(uri) {
		return Location{}, false, nil
	}
	loc, found := s.location(ctx, uri)
	if !found {
		return Location{}, false, nil
	}
	if etag != "" && loc.ETag != "" && !sameETag(loc.ETag, etag) {
		return loc, false, fmt.Errorf("%w: %s: s3://%s/%s is now ETag %s, was %s", mast.ErrChanged, uri, s.s3.Bucket(), loc.Key, loc.ETag, etag)
	}
	if size >= 0 && loc.Size != size {
		s.fallbacks.Add(1)
		s.log.Warn("cloud: object size differs from the product's, reading from MAST",
			"uri", uri, "key", loc.Key, "object_size", loc.Size, "product_size", size)
		return Location{}, false, nil
	}
	return loc, true, nil
}

// readS3 tries the bucket. ok is false when the read should go to MAST.
func (s *Source) readS3(ctx context.Context, uri string, p []byte, off, size int64) (n int, ok bool, err error) {
	return s.readS3Version(ctx, uri, p, off, size, "")
}

// readS3Version is readS3 of one ETag ("" any).
func (s *Source) readS3Version(ctx context.Context, uri string, p []byte, off, size int64, etag string) (n int, ok bool, err error) {
	loc, ok, err := s.s3Target(ctx, uri, size, etag)
	if err != nil || !ok {
		return 0, err != nil, err
	}
	n, err = s.s3.ReadAtETag(ctx, loc.Key, etag, p, off)
	if err == nil || errors.Is(err, io.EOF) {
		s.s3Reads.Add(1)
		return n, true, err
	}
	if errors.Is(err, mast.ErrChanged) {
		// Replaced under an open file: never fall back to other bytes.
		s.loc.Forget(uri)
		s.log.Warn("cloud: object changed under an open file", "uri", uri, "key", loc.Key, "err", err)
		return 0, true, err
	}
	if ctx.Err() != nil {
		return n, true, err // the caller gave up: no fallback
	}
	s.fallbacks.Add(1)
	s.setAvoid(uri)
	s.log.Warn("cloud: S3 read failed, reading from MAST", "uri", uri, "key", loc.Key, "off", off, "err", err)
	return 0, false, nil
}

func (s *Source) setAvoid(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(s.avoid) > 10000 {
		for u, until := range s.avoid {
			if now.After(until) {
				delete(s.avoid, u)
			}
		}
	}
	s.avoid[uri] = now.Add(AvoidFor)
}

func (s *Source) avoided(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.avoid[uri]
	if ok && time.Now().After(until) {
		delete(s.avoid, uri)
		return false
	}
	return ok
}

// ReadAt reads from the bucket when the product is there, else from MAST.
func (s *Source) ReadAt(ctx context.Context, uri string, p []byte, off int64) (int, error) {
	if n, ok, err := s.readS3(ctx, uri, p, off, -1); ok {
		return n, err
	}
	return s.mast.ReadAt(ctx, uri, p, off)
}

// ReadAtSize is ReadAt for a product listed with size bytes: an object of
// another size is not used, and MAST's reader reports a changed product.
func (s *Source) ReadAtSize(ctx context.Context, uri string, p []byte, off, size int64) (int, error) {
	if n, ok, err := s.readS3(ctx, uri, p, off, size); ok {
		return n, err
	}
	return s.mast.ReadAtSize(ctx, uri, p, off, size)
}

// Open streams a whole product from MAST.
func (s *Source) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	return s.mast.Open(ctx, uri)
}

// Head asks MAST about a product.
func (s *Source) Head(ctx context.Context, uri string) (mast.ObjectInfo, error) {
	return s.mast.Head(ctx, uri)
}

// Counters is the source's traffic for .mastfs/stats.json: S3 requests by
// operation, S3 errors, product bytes read from the bucket, requests sent
// again (retries) and attempts aborted by the stall watchdog (stalls).
func (s *Source) Counters() (requests map[string]int64, errors, bytes, retries, stalls int64) {
	cs := s.s3.Stats()
	st := s.Stats()
	return map[string]int64{
		"s3.HeadObject":   cs.Heads,
		"s3.GetObject":    cs.Gets,
		"s3.fallbacks":    st.Fallbacks,
		"s3.reads_served": st.S3Reads,
	}, cs.Errors, cs.Bytes, cs.Retries, cs.Stalls
}
