package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mastfs/mastfs/cache"
	"github.com/mastfs/mastfs/mast"
)

// Source reads product bytes. The block cache sits in front of it.
type Source interface {
	// ReadAt fills p from the product at off; a short read is an error
	// unless it ends at the product's end (io.EOF).
	ReadAt(ctx context.Context, uri string, p []byte, off int64) (int, error)
	// Open streams a whole product (for products of unknown size).
	Open(ctx context.Context, uri string) (io.ReadCloser, error)
	// Head asks the archive whether a product exists and its size (-1 when
	// the archive will not say).
	Head(ctx context.Context, uri string) (mast.ObjectInfo, error)
}

// sizedReader is a Source that can tell a product that changed length since
// it was listed (ESTALE) from a good read.
type sizedReader interface {
	ReadAtSize(ctx context.Context, uri string, p []byte, off, size int64) (int, error)
}

// mountState is shared by every node of one mount.
type mountState struct {
	runner  *queryRunner
	archive Archive
	source  Source
	blocks  *cache.Cache
	log     *slog.Logger
	ttl     time.Duration
	started time.Time
	uid     uint32
	gid     uint32
	// downloadURL renders a product's MAST download URL (user.mast.url).
	downloadURL func(uri string) string
	// stats feeds .mastfs/stats.json; nil when the archive keeps no counters.
	stats StatsSource
	// cloud places products in the public bucket (cloud_files.go).
	cloud cloudState
	// ops observes FUSE operation latency; nil: not observed.
	ops OpObserver
	// readTimeout bounds one product read (--read-timeout).
	readTimeout time.Duration
	// limiter is the global request cap, for stats.json; nil: none.
	limiter LimiterStats
	// panics and readTimeouts count recovered panics and timed-out reads.
	panics, readTimeouts atomic.Int64

	sizesMu sync.Mutex
	sizes   map[string]*learnedSize // dataURI → size learned from the archive
}

// Kernel cache lifetimes. Products are immutable for a given identity, so
// their entries and attributes can live long; query directories live for
// --query-ttl.
const (
	productTTL = 24 * time.Hour
	staticTTL  = time.Hour
)

func (m *mountState) dirAttr(out *fuse.Attr, ino uint64) {
	out.Mode = fuse.S_IFDIR | 0o555
	out.Ino = ino
	out.Nlink = 2
	out.Owner = fuse.Owner{Uid: m.uid, Gid: m.gid}
	t := m.started
	out.SetTimes(&t, &t, &t)
}

func (m *mountState) fileAttr(out *fuse.Attr, ino uint64, size int64, mtime time.Time) {
	out.Mode = fuse.S_IFREG | 0o444
	out.Ino = ino
	out.Nlink = 1
	if size > 0 {
		out.Size = uint64(size)
	}
	out.Blksize = 1 << 20
	out.Blocks = (out.Size + 511) / 512
	out.Owner = fuse.Owner{Uid: m.uid, Gid: m.gid}
	if mtime.IsZero() {
		mtime = m.started
	}
	out.SetTimes(&mtime, &mtime, &mtime)
}

// readOnly gives EROFS for every namespace or attribute change. The kernel
// already refuses writes on an "ro" mount; this covers the rest.
type readOnly struct{ gofs.Inode }

var (
	_ gofs.NodeSetattrer     = (*readOnly)(nil)
	_ gofs.NodeSetxattrer    = (*readOnly)(nil)
	_ gofs.NodeRemovexattrer = (*readOnly)(nil)
	_ gofs.NodeMkdirer       = (*readOnly)(nil)
	_ gofs.NodeCreater       = (*readOnly)(nil)
	_ gofs.NodeUnlinker      = (*readOnly)(nil)
	_ gofs.NodeRmdirer       = (*readOnly)(nil)
	_ gofs.NodeRenamer       = (*readOnly)(nil)
	_ gofs.NodeSymlinker     = (*readOnly)(nil)
	_ gofs.NodeLinker        = (*readOnly)(nil)
	_ gofs.NodeMknoder       = (*readOnly)(nil)
)

func (*readOnly) Setattr(context.Context, gofs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
func (*readOnly) Setxattr(context.Context, string, []byte, uint32) syscall.Errno {
	return syscall.EROFS
}
func (*readOnly) Removexattr(context.Context, string) syscall.Errno { return syscall.EROFS }
func (*readOnly) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (*readOnly) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}
func (*readOnly) Unlink(context.Context, string) syscall.Errno { return syscall.EROFS }
func (*readOnly) Rmdir(context.Context, string) syscall.Errno  { return syscall.EROFS }
func (*readOnly) Rename(context.Context, string, gofs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EROFS
}
func (*readOnly) Symlink(context.Context, string, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (*readOnly) Link(context.Context, gofs.InodeEmbedder, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (*readOnly) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// staticDir is a directory with a fixed set of children (the root, prefixes).
type staticDir struct {
	readOnly
	m        *mountState
	ino      uint64
	children map[string]func() (gofs.InodeEmbedder, gofs.StableAttr)
	// lookup, when set, handles names not in children (prefix directories).
	lookup func(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno)
}

var (
	_ gofs.NodeLookuper  = (*staticDir)(nil)
	_ gofs.NodeReaddirer = (*staticDir)(nil)
	_ gofs.NodeGetattrer = (*staticDir)(nil)
)

func (d *staticDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer d.m.observe("Getattr", time.Now())
	d.m.dirAttr(&out.Attr, d.StableAttr().Ino)
	out.SetTimeout(staticTTL)
	return 0
}

func (d *staticDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer d.m.observe("Lookup", time.Now())
	if mk, ok := d.children[name]; ok {
		node, attr := mk()
		ch := d.NewInode(ctx, node, attr)
		if g, ok := ch.Operations().(gofs.NodeGetattrer); ok {
			var ao fuse.AttrOut
			if errno := g.Getattr(ctx, nil, &ao); errno != 0 {
				return nil, errno
			}
			out.Attr = ao.Attr
		}
		out.SetEntryTimeout(staticTTL)
		out.SetAttrTimeout(staticTTL)
		return ch, 0
	}
	if d.lookup != nil {
		return d.lookup(ctx, name, out)
	}
	return nil, syscall.ENOENT
}

func (d *staticDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	defer d.m.observe("Readdir", time.Now())
	names := make([]string, 0, len(d.children))
	for n := range d.children {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]fuse.DirEntry, 0, len(names))
	for _, n := range names {
		_, attr := d.children[n]()
		entries = append(entries, fuse.DirEntry{Name: n, Mode: attr.Mode, Ino: attr.Ino})
	}
	return gofs.NewListDirStream(entries), 0
}

// textFile is a small generated file (README.txt, .count, CSV tables). Its
// content is produced on open; the size it reports is the size of the
// content as last generated, and reads use direct I/O so the kernel never
// trusts a stale size.
type textFile struct {
	readOnly
	m        *mountState
	generate func(ctx context.Context) ([]byte, error)
	ttl      time.Duration

	mu   sync.Mutex
	data []byte
	at   time.Time
}

var (
	_ gofs.NodeGetattrer = (*textFile)(nil)
	_ gofs.NodeOpener    = (*textFile)(nil)
	_ gofs.NodeReader    = (*textFile)(nil)
)

func (f *textFile) content(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	if f.data != nil && time.Since(f.at) < f.ttl {
		d := f.data
		f.mu.Unlock()
		return d, nil
	}
	f.mu.Unlock()
	d, err := f.generate(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.data, f.at = d, time.Now()
	f.mu.Unlock()
	return d, nil
}

func (f *textFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer f.m.observe("Getattr", time.Now())
	d, err := f.content(ctx)
	if err != nil {
		f.m.log.Warn("generating file failed", "err", err)
		return toErrno(err)
	}
	f.m.fileAttr(&out.Attr, f.StableAttr().Ino, int64(len(d)), f.m.started)
	out.SetTimeout(time.Second)
	return 0
}

type textHandle struct{ data []byte }

func (f *textFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	defer f.m.observe("Open", time.Now())
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	d, err := f.content(ctx)
	if err != nil {
		f.m.log.Warn("generating file failed", "err", err)
		return nil, 0, toErrno(err)
	}
	return &textHandle{data: d}, fuse.FOPEN_DIRECT_IO, 0
}

func (f *textFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	defer f.m.observe("Read", time.Now())
	h, ok := fh.(*textHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := off + int64(len(dest))
	if end > int64(len(h.data)) {
		end = int64(len(h.data))
	}
	return fuse.ReadResultData(h.data[off:end]), 0
}

// textChild returns a children-map entry for a generated file.
func textChild(m *mountState, ino uint64, ttl time.Duration, gen func(ctx context.Context) ([]byte, error)) func() (gofs.InodeEmbedder, gofs.StableAttr) {
	return func() (gofs.InodeEmbedder, gofs.StableAttr) {
		return &textFile{m: m, generate: gen, ttl: ttl}, gofs.StableAttr{Mode: fuse.S_IFREG, Ino: ino}
	}
}

// productFile is one archive product.
type productFile struct {
	readOnly
	m *mountState
	p *product

	// etagMu guards etag: the object version the last open saw (versions.go).
	etagMu sync.Mutex
	etag   string
}

var (
	_ gofs.NodeGetattrer   = (*productFile)(nil)
	_ gofs.NodeOpener      = (*productFile)(nil)
	_ gofs.NodeReader      = (*productFile)(nil)
	_ gofs.NodeGetxattrer  = (*productFile)(nil)
	_ gofs.NodeListxattrer = (*productFile)(nil)
)

func (f *productFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer f.m.observe("Getattr", time.Now())
	size, err := f.m.productSize(ctx, f.p)
	ttl := productTTL
	if err != nil {
		f.m.log.Warn("product size unknown", "uri", f.p.URI, "err", err)
		if errno := toErrno(err); errno != syscall.EACCES {
			return errno
		}
		// We may not read it, so its size is unknowable: the file stays
		// visible with its xattrs (size 0, not cached) and open says EACCES.
		size, ttl = 0, 0
	}
	f.m.fileAttr(&out.Attr, f.StableAttr().Ino, size, f.p.Mtime)
	out.SetTimeout(ttl)
	return 0
}

// productHandle is one open product. For products the archive gave no size
// for, the whole body is held by the handle's learned size entry.
type productHandle struct {
	whole *learnedSize
	ra    readahead
	// etag is the object version this open reads ("" when unknown);
	// every block it reads is of that version. It may change only while
	// served is 0 (readjust).
	mu   sync.Mutex
	etag string
	// served counts the bytes this open has handed out (under mu).
	served atomic.Int64
	// pageCacheless: opened with O_DIRECT, so the kernel keeps none of
	// what it reads and the block cache must keep streamed blocks.
	pageCacheless bool
}

func (h *productHandle) version() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.etag
}

// readjust adopts the product's current version after a read of version
// was refused as changed, if this open has handed out no byte yet: the
// version it pinned at open may have been a bad answer, and nothing read
// so far can disagree with the new one. It reports whether a read should
// be tried again.
func (f *productFile) readjust(ctx context.Context, h *productHandle, version string) bool {
	if h.served.Load() != 0 {
		return false
	}
	now, _ := f.openVersion(ctx) // the source forgot the old location
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.etag != version {
		return true // another read adopted the current version already
	}
	if h.served.Load() != 0 || now == version {
		return false
	}
	f.m.log.Info("product version at open was not the archive's; this open reads the current one",
		"uri", f.p.URI, "was", version, "now", now)
	h.etag = now
	return true
}

func (f *productFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	defer f.m.observe("Open", time.Now())
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	if f.p.Size >= 0 {
		// The identity (and so the bytes) of an inode never changes: the page
		// cache may survive across opens, unless the object's version changed
		// or the caller asked for O_DIRECT (versions.go).
		etag, keep := f.openVersion(ctx)
		h := &productHandle{etag: etag, pageCacheless: flags&syscall.O_DIRECT != 0}
		return h, openFlags(flags, keep), 0
	}
	ls, err := f.m.learn(ctx, f.p)
	if err != nil {
		f.m.log.Warn("open failed", "uri", f.p.URI, "err", err)
		return nil, 0, toErrno(err)
	}
	return &productHandle{whole: ls}, fuse.FOPEN_DIRECT_IO, 0
}

func (f *productFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	defer f.m.observe("Read", time.Now())
	if h, ok := fh.(*productHandle); ok && h.whole != nil && h.whole.body != nil {
		body := h.whole.body
		if off >= int64(len(body)) {
			return fuse.ReadResultData(nil), 0
		}
		end := min(off+int64(len(dest)), int64(len(body)))
		return fuse.ReadResultData(body[off:end]), 0
	}
	size, err := f.m.productSize(ctx, f.p)
	if err != nil {
		return nil, toErrno(err)
	}
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	if off+int64(len(dest)) > size {
		dest = dest[:size-off]
	}
	h, _ := fh.(*productHandle)
	var etag string
	if h != nil {
		etag = h.version()
	}
	obj := f.m.cacheObject(f.p.URI, size, etag)
	mode := cache.Cached
	if h != nil {
		bs := int64(f.m.blocks.BlockSize())
		first, count, random := h.ra.observe(off, int64(len(dest)), bs, size)
		switch {
		case random:
			mode = cache.Direct
		case count > 0:
			if !h.pageCacheless {
				mode = cache.Streaming
			}
			f.m.blocks.PrefetchRange(obj, first, count)
		}
	}
	rctx, cancel := context.WithTimeoutCause(ctx, f.m.readTimeout, errReadTimeout)
	defer cancel()
	pin, err := f.m.blocks.Pin(rctx, obj, dest, off, mode)
	if h != nil && errors.Is(err, mast.ErrChanged) && f.readjust(rctx, h, etag) {
		pin.Release()
		obj = f.m.cacheObject(f.p.URI, size, h.version())
		pin, err = f.m.blocks.Pin(rctx, obj, dest, off, mode)
	}
	if err != nil && err != io.EOF {
		pin.Release()
		if context.Cause(rctx) == errReadTimeout && ctx.Err() == nil {
			f.m.readTimeouts.Add(1)
			err = fmt.Errorf("%w after %v", errReadTimeout, f.m.readTimeout)
		}
		f.m.log.Warn("read failed", "uri", f.p.URI, "off", off, "len", len(dest), "err", err)
		return nil, toErrno(err)
	}
	if h != nil && !h.hand(obj.Key, size, f.p.URI, pin.Len) {
		// Another read of this open adopted a newer version meanwhile:
		// these bytes are of the old one.
		pin.Release()
		return nil, syscall.ESTALE
	}
	return pinnedResult{pin}, 0
}

// hand records n bytes of version key handed out; false if the open reads
// another version now. Together with readjust (same lock) it keeps every
// byte one open hands out of one version.
func (h *productHandle) hand(key string, size int64, uri string, n int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if blockIdentity(uri, size, h.etag) != key {
		return false
	}
	h.served.Add(int64(n))
	return true
}

// errReadTimeout ends a read that took longer than --read-timeout (EIO).
var errReadTimeout = errors.New("read timed out (--read-timeout)")

// panicked is go-fuse's PanicHandler: the operation gets EIO, the panic is
// logged with its stack, and the mount stays up.
func (m *mountState) panicked(r any) fuse.Status {
	m.panics.Add(1)
	m.log.Error("recovered panic in a FUSE handler; the operation gets EIO", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fuse.EIO
}

// pinnedResult hands the cached blocks of a read to go-fuse, which writes
// them to the kernel with one writev (the Slices method) and then calls
// Done: the bytes are never copied in user space, and the blocks cannot be
// recycled before the kernel has them.
type pinnedResult struct{ pin *cache.Pinned }

var _ fuse.ReadResult = pinnedResult{}

func (r pinnedResult) Size() int { return r.pin.Len }

func (r pinnedResult) Done() { r.pin.Release() }

func (r pinnedResult) Slices() ([][]byte, fuse.Status) { return r.pin.Slices, fuse.OK }

func (r pinnedResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, s := range r.pin.Slices {
		buf = append(buf, s...)
	}
	return buf, fuse.OK
}

// cacheObject is the product uri of size bytes (version etag, "" when
// unknown) as the block cache reads it.
func (m *mountState) cacheObject(uri string, size int64, etag string) cache.Object {
	obj := cache.Object{
		Key:  blockIdentity(uri, size, etag),
		Size: size,
		Fetch: func(ctx context.Context, p []byte, off int64) (int, error) {
			if vs, ok := m.source.(versionedSource); ok && etag != "" {
				return vs.ReadAtVersion(ctx, uri, p, off, size, etag)
			}
			if sr, ok := m.source.(sizedReader); ok {
				return sr.ReadAtSize(ctx, uri, p, off, size)
			}
			return m.source.ReadAt(ctx, uri, p, off)
		},
	}
	if br, ok := m.source.(blockReader); ok {
		obj.FetchBlocks = func(ctx context.Context, off int64, bufs [][]byte, filled func(int)) error {
			return br.ReadBlocks(ctx, uri, off, size, etag, bufs, filled)
		}
	}
	return obj
}

// blockReader is a Source that fills several consecutive blocks with one
// request (cloud.Source: one ranged S3 GET per prefetch span).
type blockReader interface {
	ReadBlocks(ctx context.Context, uri string, off, size int64, etag string, bufs [][]byte, filled func(i int)) error
}

func (f *productFile) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	defer f.m.observe("Getxattr", time.Now())
	// ls -l asks every file for security.selinux and ACLs: answer at once.
	if !strings.HasPrefix(attr, "user.mast.") {
		return 0, syscall.ENODATA
	}
	if errno := f.m.cloud.resolveXattr(ctx, f.m.log, attr, f.p.URI); errno != 0 {
		return 0, errno
	}
	v, ok := f.xattrs()[attr]
	if !ok {
		return 0, syscall.ENODATA
	}
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (f *productFile) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	attrs := f.xattrs()
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
	}
	if len(dest) == 0 {
		return uint32(b.Len()), 0
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), syscall.ERANGE
	}
	return uint32(copy(dest, b.Bytes())), 0
}

func (f *productFile) xattrs() map[string]string {
	out := make(map[string]string, len(f.p.Columns)+1)
	for _, c := range f.p.Columns {
		out["user.mast."+c.Name] = f.p.Row.Str(c.Name)
	}
	out["user.mast.url"] = f.m.downloadURL(f.p.URI)
	f.m.cloud.addXattr(out, f.p.URI) // user.mast.cloud_uri, when known: no request here
	return out
}

// learnedSize is what the archive told us about a product with no size in
// its metadata: learned once per mount and kept.
type learnedSize struct {
	once  sync.Once
	ready atomic.Bool // set once size/body/err are final
	size  int64
	body  []byte // the whole product, when only a full read could tell its size
	err   error
}

// maxUnsizedBody bounds the memory held for products without a Content-Length.
const maxUnsizedBody = 256 << 20

func (m *mountState) learn(ctx context.Context, p *product) (*learnedSize, error) {
	m.sizesMu.Lock()
	ls, ok := m.sizes[p.URI]
	if !ok {
		ls = &learnedSize{}
		m.sizes[p.URI] = ls
	}
	m.sizesMu.Unlock()
	ls.once.Do(func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		// A stream without a length cannot resume where it broke off
		// (mast.Client.Open refuses to guess), so the whole body is asked
		// for again, a few times, before the open fails.
		for attempt := 1; ; attempt++ {
			ls.size, ls.body, ls.err = m.fetchUnsized(fctx, p.URI)
			if ls.err == nil || attempt == unsizedAttempts || fctx.Err() != nil ||
				errors.Is(ls.err, mast.ErrNotFound) || errors.Is(ls.err, mast.ErrUnauthorized) || errors.Is(ls.err, errTooLarge) {
				return
			}
			m.log.Debug("reading a product without a length again", "uri", p.URI, "attempt", attempt, "err", ls.err)
		}
	})
	ls.ready.Store(true)
	if ls.err != nil {
		// Let a later open try again.
		m.sizesMu.Lock()
		if m.sizes[p.URI] == ls {
			delete(m.sizes, p.URI)
		}
		m.sizesMu.Unlock()
	}
	return ls, ls.err
}

// unsizedAttempts is how often the whole body of a product without a
// length is asked for before its open fails.
const unsizedAttempts = 3

var errTooLarge = fmt.Errorf("product without Content-Length is larger than %d bytes", maxUnsizedBody)

// fetchUnsized reads the whole body of a product without a length.
func (m *mountState) fetchUnsized(ctx context.Context, uri string) (int64, []byte, error) {
	rc, err := m.source.Open(ctx, uri)
	if err != nil {
		return 0, nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxUnsizedBody+1))
	if err != nil {
		return 0, nil, err
	}
	if len(body) > maxUnsizedBody {
		return 0, nil, errTooLarge
	}
	return int64(len(body)), body, nil
}

// productSize is the exact size: from the metadata, else learned once.
func (m *mountState) productSize(ctx context.Context, p *product) (int64, error) {
	if p.Size >= 0 {
		return p.Size, nil
	}
	ls, err := m.learn(ctx, p)
	if err != nil {
		return 0, err
	}
	return ls.size, nil
}
