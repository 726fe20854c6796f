package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// PathLookuper maps data URIs to bucket keys (MAST's path_lookup). URIs the
// service does not place are absent from the map. *mast.Client satisfies it.
type PathLookuper interface {
	PathLookup(ctx context.Context, uris []string) (map[string]string, error)
}

// ObjectHeader confirms that an object exists; *Client satisfies it. A
// missing object is an error that is errors.Is ErrNotFound.
type ObjectHeader interface {
	Head(ctx context.Context, key string) (size int64, etag string, err error)
}

// PathLookupBatch is the most URIs sent in one path_lookup request
// (astroquery's chunking, to avoid "414 Request-URI Too Large").
const PathLookupBatch = 40

// Location is where a product is held in the bucket, as confirmed by HEAD.
type Location struct {
	Key  string
	Size int64
	ETag string
}

// LocatorOptions tune a Locator; the zero value is fine.
type LocatorOptions struct {
	// Heads is how many HEAD requests run at once (default 16).
	Heads int
	// Timeout bounds one resolution run (default 5 minutes). The run is
	// detached from the caller's context.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Locator maps data URIs to keys of objects that exist in the bucket. See
// the package documentation.
type Locator struct {
	paths   PathLookuper
	store   ObjectHeader
	heads   int
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	entries map[string]*locEntry
}

// locEntry is one data URI: done is closed when the answer is known.
type locEntry struct {
	done  chan struct{}
	loc   Location
	found bool
	err   error
}

// NewLocator returns a Locator that asks paths for keys and store for
// their existence.
func NewLocator(paths PathLookuper, store ObjectHeader, opts LocatorOptions) *Locator {
	if opts.Heads <= 0 {
		opts.Heads = 16
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Locator{paths: paths, store: store, heads: opts.Heads, timeout: opts.Timeout,
		log: opts.Logger, entries: map[string]*locEntry{}}
}

// Locate returns the bucket key of each of uris that is held in the cloud
// (path_lookup places it and HEAD finds the object). URIs not in the map
// are not held there. URIs not learned before are resolved together, in
// path_lookup batches of PathLookupBatch; URIs another caller is resolving
// are waited for. On an error the map holds what is known and the error
// names the first failure; failed URIs are asked again next time.
func (l *Locator) Locate(ctx context.Context, uris []string) (map[string]string, error) {
	locs, err := l.Lookup(ctx, uris)
	out := make(map[string]string, len(locs))
	for u, loc := range locs {
		out[u] = loc.Key
	}
	return out, err
}

// Lookup is Locate with the size and ETag HEAD reported for each object.
func (l *Locator) Lookup(ctx context.Context, uris []string) (map[string]Location, error) {
	seen := make(map[string]bool, len(uris))
	var want []string
	for _, u := range uris {
		if u != "" && !seen[u] {
			seen[u] = true
			want = append(want, u)
		}
	}
	ents := make([]*locEntry, len(want))
	var mine []string
	mineEnts := map[string]*locEntry{}
	l.mu.Lock()
	for i, u := range want {
		e, ok := l.entries[u]
		if !ok {
			e = &locEntry{done: make(chan struct{})}
			l.entries[u] = e
			mine = append(mine, u)
			mineEnts[u] = e
		}
		ents[i] = e
	}
	l.mu.Unlock()
	if len(mine) > 0 {
		// Detached: callers that wait for these URIs must not fail because
		// this one was interrupted.
		go l.resolve(mine, mineEnts)
	}
	out := make(map[string]Location)
	var firstErr error
	for i, e := range ents {
		select {
		case <-e.done:
		case <-ctx.Done():
			return out, ctx.Err()
		}
		switch {
		case e.err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("cloud: locating %s: %w", want[i], e.err)
			}
		case e.found:
			out[want[i]] = e.loc
		}
	}
	return out, firstErr
}

// Cached reports what is known of uri without any request: known is false
// while it has not been resolved (or is being resolved, or failed).
func (l *Locator) Cached(uri string) (key string, found, known bool) {
	loc, found, known := l.CachedLocation(uri)
	return loc.Key, found, known
}

// CachedLocation is Cached with size and ETag.
func (l *Locator) CachedLocation(uri string) (loc Location, found, known bool) {
	l.mu.Lock()
	e, ok := l.entries[uri]
	l.mu.Unlock()
	if !ok {
		return Location{}, false, false
	}
	select {
	case <-e.done:
		if e.err != nil {
			return Location{}, false, false
		}
		return e.loc, e.found, true
	default:
		return Location{}, false, false
	}
}

// resolve learns the entries of uris: path_lookup batch by batch, the HEADs
// of each batch running while the next batch is looked up.
func (l *Locator) resolve(uris []string, ents map[string]*locEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	sem := make(chan struct{}, l.heads)
	var wg sync.WaitGroup
	for start := 0; start < len(uris); start += PathLookupBatch {
		batch := uris[start:min(start+PathLookupBatch, len(uris))]
		keys, err := l.paths.PathLookup(ctx, batch)
		if err != nil {
			l.log.Warn("cloud: path_lookup failed", "uris", len(batch), "err", err)
			for _, u := range uris[start:] {
				l.finish(u, ents[u], Location{}, false, err)
			}
			break
		}
		for _, u := range batch {
			key, ok := keys[u]
			if !ok || key == "" {
				l.finish(u, ents[u], Location{}, false, nil)
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				size, etag, err := l.store.Head(ctx, key)
				switch {
				case err == nil:
					l.finish(u, ents[u], Location{Key: key, Size: size, ETag: etag}, true, nil)
				case errors.Is(err, ErrNotFound):
					l.log.Debug("cloud: path_lookup key has no object", "uri", u, "key", key)
					l.finish(u, ents[u], Location{}, false, nil)
				case errors.Is(err, ErrForbidden):
					// Not readable anonymously: not held in the cloud for us.
					l.log.Debug("cloud: object not readable anonymously", "uri", u, "key", key, "err", err)
					l.finish(u, ents[u], Location{}, false, nil)
				default:
					l.log.Warn("cloud: HEAD failed", "uri", u, "key", key, "err", err)
					l.finish(u, ents[u], Location{}, false, err)
				}
			}()
		}
	}
	wg.Wait()
}

// finish publishes an answer. A failure is not kept: the entry leaves the
// map so that the next caller asks again.
func (l *Locator) finish(uri string, e *locEntry, loc Location, found bool, err error) {
	e.loc, e.found, e.err = loc, found, err
	if err != nil {
		l.mu.Lock()
		if l.entries[uri] == e {
			delete(l.entries, uri)
		}
		l.mu.Unlock()
	}
	close(e.done)
}

// Forget drops what is known of uri (after its object was found replaced),
// so that the next Lookup asks path_lookup and HEAD again. A resolution
// under way is left alone.
func (l *Locator) Forget(uri string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[uri]; ok {
		select {
		case <-e.done:
			delete(l.entries, uri)
		default:
		}
	}
}
