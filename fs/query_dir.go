package fs

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// queryDir is a directory that stands for a query. Traversing it is free;
// listing it, or looking up a product in it, runs the query (once per TTL).
type queryDir struct {
	readOnly
	m    *mountState
	spec QuerySpec
}

var (
	_ gofs.NodeLookuper  = (*queryDir)(nil)
	_ gofs.NodeReaddirer = (*queryDir)(nil)
	_ gofs.NodeGetattrer = (*queryDir)(nil)
)

// segmentName tells a query segment (`name=value`, `@filter`) from a product
// file name without any request.
var segmentName = regexp.MustCompile(`^(@|[A-Za-z_][A-Za-z0-9_]*=)`)

func (d *queryDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer d.m.observe("Getattr", time.Now())
	d.m.dirAttr(&out.Attr, d.StableAttr().Ino)
	out.SetTimeout(d.m.ttl)
	return 0
}

// queryDirIno is the inode number of the query directory spec under the
// directory numbered parent (readdir and lookup must agree on it).
func queryDirIno(parent uint64, spec QuerySpec) uint64 {
	return identityIno("query", strconv.FormatUint(parent, 10), spec.Key())
}

// newQueryDir makes (or finds) the inode of a query directory. Its number
// hashes the parent's number with the canonical key: a segment that does not
// change the query (radius=12arcmin under the default 0.2 deg) must not give
// a child the inode of its parent, which the kernel would take for a loop.
// Reordered segments still share one listing (the cache is keyed by Key).
func (m *mountState) newQueryDir(ctx context.Context, parent *gofs.Inode, spec QuerySpec, out *fuse.EntryOut) *gofs.Inode {
	ino := queryDirIno(parent.StableAttr().Ino, spec)
	ch := parent.NewInode(ctx, &queryDir{m: m, spec: spec}, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino})
	m.dirAttr(&out.Attr, ino)
	out.SetEntryTimeout(m.ttl)
	out.SetAttrTimeout(m.ttl)
	return ch
}

func (d *queryDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer d.m.observe("Lookup", time.Now())
	// A product already listed wins over the segment reading of its name.
	if l := d.m.runner.cached(d.spec); l != nil {
		if p := l.lookup(name); p != nil {
			return d.productInode(ctx, p, out)
		}
	}
	if segmentName.MatchString(name) {
		spec, err := d.spec.With(name)
		if err == nil {
			err = d.m.checkCriteria(ctx, spec)
		}
		if err != nil {
			d.m.log.Warn("bad path segment", "segment", name, "dir", d.spec.Key(), "reason", err)
			return nil, toErrno(err)
		}
		return d.m.newQueryDir(ctx, d.EmbeddedInode(), spec, out), 0
	}
	if mk, ok := d.dotfiles()[name]; ok {
		node, attr := mk()
		ch := d.NewInode(ctx, node, attr)
		var ao fuse.AttrOut
		if errno := ch.Operations().(gofs.NodeGetattrer).Getattr(ctx, nil, &ao); errno != 0 {
			return nil, errno
		}
		out.Attr = ao.Attr
		out.SetEntryTimeout(time.Second)
		out.SetAttrTimeout(time.Second)
		return ch, 0
	}
	if err := d.spec.Runnable(); err != nil {
		return nil, syscall.ENOENT
	}
	l, err := d.m.runner.listing(ctx, d.spec)
	if err != nil {
		return nil, toErrno(err)
	}
	if l.TooMany && name == tooManyName {
		return d.textInode(ctx, name, out)
	}
	p := l.lookup(name)
	if p == nil {
		return nil, syscall.ENOENT
	}
	return d.productInode(ctx, p, out)
}

func (d *queryDir) productInode(ctx context.Context, p *product, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ch := d.NewInode(ctx, &productFile{m: d.m, p: p}, gofs.StableAttr{Mode: fuse.S_IFREG, Ino: p.ino()})
	size := p.Size
	if size < 0 {
		// Unknown until learned: no attribute caching, so a stat after the
		// first open (which learns it) sees the exact size.
		size = 0
		out.SetAttrTimeout(0)
		if ls := d.m.learnedSize(p.URI); ls >= 0 {
			size = ls
			out.SetAttrTimeout(productTTL)
		}
	} else {
		out.SetAttrTimeout(productTTL)
	}
	d.m.fileAttr(&out.Attr, p.ino(), size, p.Mtime)
	out.SetEntryTimeout(d.m.ttl)
	return ch, 0
}

func (d *queryDir) textInode(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	mk := textChild(d.m, identityIno("text", d.spec.Key(), name), d.m.ttl, func(ctx context.Context) ([]byte, error) {
		l, err := d.m.runner.listing(ctx, d.spec)
		if err != nil {
			return nil, err
		}
		return []byte(tooManyText(d.spec, l)), nil
	})
	node, attr := mk()
	ch := d.NewInode(ctx, node, attr)
	var ao fuse.AttrOut
	if errno := node.(*textFile).Getattr(ctx, nil, &ao); errno != 0 {
		return nil, errno
	}
	out.Attr = ao.Attr
	return ch, 0
}

func tooManyText(spec QuerySpec, l *listing) string {
	return fmt.Sprintf("This query matches %d observations; the limit (--max-observations) is %d.\n"+
		"Its products are not listed, so that a broad query cannot flood the archive or this mount.\n"+
		"Narrow the query with more criteria, for example:\n"+
		"  %s/instrument_name=...\n  %s/t_min=2020-01-01..2020-02-01\n"+
		"or raise --max-observations. .count still works here.\n",
		l.Count, l.Limit, spec.Key(), spec.Key())
}

func (d *queryDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	defer d.m.observe("Readdir", time.Now())
	if err := d.spec.Runnable(); err != nil {
		// A directory on the way to a query (e.g. criteria/objectname=M101/)
		// lists nothing until it names a runnable query.
		return gofs.NewListDirStream(nil), 0
	}
	l, err := d.m.runner.listing(ctx, d.spec)
	if err != nil {
		d.m.log.Warn("listing failed", "dir", d.spec.Key(), "err", err)
		return nil, toErrno(err)
	}
	if l.TooMany {
		entries := []fuse.DirEntry{{Name: tooManyName, Mode: fuse.S_IFREG, Ino: identityIno("text", d.spec.Key(), tooManyName)}}
		for _, n := range dotfileNames {
			entries = append(entries, fuse.DirEntry{Name: n, Mode: fuse.S_IFREG, Ino: identityIno("text", d.spec.Key(), n)})
		}
		return gofs.NewListDirStream(entries), 0
	}
	entries := make([]fuse.DirEntry, 0, len(l.Files))
	for _, p := range l.Files {
		entries = append(entries, fuse.DirEntry{Name: p.Name, Mode: fuse.S_IFREG, Ino: p.ino()})
	}
	return gofs.NewListDirStream(entries), 0
}

// queryFiles are the generated files of every query directory. They are
// reachable by name but listed only where products are not (over the
// observation limit): `find`, `cp -r` and `rsync` of a query directory then
// see exactly its products.
var queryFiles = map[string]func(d *queryDir, ctx context.Context) ([]byte, error){
	".count":            (*queryDir).countFile,
	".observations.csv": (*queryDir).observationsCSV,
	".products.csv":     (*queryDir).productsCSV,
	".cloud-uris.txt":   (*queryDir).cloudURIsFile,
	".curl.sh":          (*queryDir).curlScript,
}

// dotfileNames lists queryFiles in a stable order.
var dotfileNames = func() []string {
	names := make([]string, 0, len(queryFiles))
	for n := range queryFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}()

func (d *queryDir) dotfiles() map[string]func() (gofs.InodeEmbedder, gofs.StableAttr) {
	key := d.spec.Key()
	out := make(map[string]func() (gofs.InodeEmbedder, gofs.StableAttr), len(queryFiles))
	for name, gen := range queryFiles {
		out[name] = textChild(d.m, identityIno("text", key, name), d.m.ttl, func(ctx context.Context) ([]byte, error) {
			// A directory on the way to a query has no tables yet: ENOENT
			// with the reason, not an I/O error.
			if err := d.spec.Runnable(); err != nil {
				return nil, &SegmentError{Segment: name, Reason: "not a complete query yet: " + err.Error()}
			}
			return gen(d, ctx)
		})
	}
	return out
}

// countFile is .count: the observation count from a count query alone (or
// from the listing when it is already cached).
func (d *queryDir) countFile(ctx context.Context) ([]byte, error) {
	if err := d.spec.Runnable(); err != nil {
		return nil, err
	}
	if l := d.m.runner.cached(d.spec); l != nil {
		return []byte(fmt.Sprintf("%d\n", l.Count)), nil
	}
	if ids, ok := d.spec.ObsIDs(); ok {
		return []byte(fmt.Sprintf("%d\n", len(ids))), nil
	}
	q, err := d.m.runner.query(ctx, d.spec)
	if err != nil {
		return nil, err
	}
	n, err := d.m.archive.Count(ctx, q)
	if err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf("%d\n", n)), nil
}

// checkCriteria validates a spec's criteria against the column configuration
// (unknown names, ranges on discrete columns) without running the query.
func (m *mountState) checkCriteria(ctx context.Context, spec QuerySpec) error {
	crits := spec.Criteria()
	if len(crits) == 0 {
		return nil
	}
	_, err := m.archive.BuildFilters(ctx, crits)
	return err
}

func (m *mountState) learnedSize(uri string) int64 {
	m.sizesMu.Lock()
	defer m.sizesMu.Unlock()
	if ls, ok := m.sizes[uri]; ok && ls.ready.Load() && ls.err == nil {
		return ls.size
	}
	return -1
}
