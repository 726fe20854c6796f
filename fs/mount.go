package fs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mastfs/mastfs/cache"
	"github.com/mastfs/mastfs/mast"
)

// Options configure one mount.
type Options struct {
	Archive Archive
	Source  Source
	Cache   *cache.Cache
	// DownloadURL renders the MAST download URL of a data URI.
	DownloadURL func(uri string) string
	// QueryTTL is how long listings stay cached (and the kernel's entry
	// lifetime for query directories).
	QueryTTL time.Duration
	// MaxObservations caps the observations a directory will list.
	MaxObservations int
	Logger          *slog.Logger
	AllowOther      bool
	DebugFUSE       bool
	// Stats feeds .mastfs/stats.json; nil: Archive's, if it keeps counters.
	Stats StatsSource
	// Cloud places products in the public bucket (.cloud-uris.txt,
	// user.mast.cloud_uri); nil when the cloud is off. CloudBucket names
	// the bucket in s3:// URIs (default stpubdata).
	Cloud       CloudLocator
	CloudBucket string
	// CloudOnly (--cloud only) hides the products Cloud does not place in
	// the bucket from every listing; it needs Cloud.
	CloudOnly bool
	// Ops observes the latency of FUSE operations (metrics); nil: none.
	Ops OpObserver
	// Limiter, when set, reports the global request cap in stats.json.
	Limiter LimiterStats
	// ReadTimeout bounds one read of product bytes (--read-timeout):
	// after it the read fails with EIO. Default DefaultReadTimeout.
	ReadTimeout time.Duration
}

// DefaultReadTimeout is Options.ReadTimeout's default: long enough for a
// block over a slow link with retries, short enough that a stalled
// backend gives a pipeline an error rather than a hang.
const DefaultReadTimeout = time.Minute

func (o *Options) defaults() {
	if o.QueryTTL <= 0 {
		o.QueryTTL = 10 * time.Minute
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.DownloadURL == nil {
		o.DownloadURL = func(uri string) string { return uri }
	}
	if s, ok := o.Archive.(StatsSource); ok && o.Stats == nil {
		o.Stats = s
	}
}

// Root is the root of a mastfs tree.
type Root struct {
	staticDir
}

// NewRoot builds the root node of the tree for opts.
func NewRoot(opts Options) (*Root, error) {
	opts.defaults()
	if opts.Archive == nil || opts.Source == nil || opts.Cache == nil {
		return nil, fmt.Errorf("fs: Archive, Source and Cache are required")
	}
	m := &mountState{
		archive:     opts.Archive,
		source:      opts.Source,
		blocks:      opts.Cache,
		log:         opts.Logger,
		ttl:         opts.QueryTTL,
		started:     time.Now(),
		uid:         uint32(os.Getuid()),
		gid:         uint32(os.Getgid()),
		downloadURL: opts.DownloadURL,
		stats:       opts.Stats,
		cloud:       newCloudState(opts.Cloud, opts.CloudBucket),
		sizes:       map[string]*learnedSize{},
		ops:         opts.Ops,
		readTimeout: opts.ReadTimeout,
		limiter:     opts.Limiter,
	}
	m.runner = newQueryRunner(opts.Archive, opts.QueryTTL, opts.MaxObservations, opts.Logger)
	if opts.CloudOnly {
		if opts.Cloud == nil {
			return nil, fmt.Errorf("fs: CloudOnly needs Cloud")
		}
		m.runner.only = opts.Cloud
	}
	r := &Root{staticDir{m: m}}
	r.children = rootChildren(m)
	return r, nil
}

// DropCaches forgets cached listings and resolved names (SIGHUP).
func (r *Root) DropCaches() { r.m.runner.Drop() }

// Mount mounts the tree at mountpoint. The caller waits on the server and
// unmounts it.
func Mount(mountpoint string, opts Options) (*fuse.Server, *Root, error) {
	root, err := NewRoot(opts)
	if err != nil {
		return nil, nil, err
	}
	opts.defaults()
	negative := time.Second
	fo := &gofs.Options{
		MountOptions: fuse.MountOptions{
			FsName:        "mastfs",
			Name:          "mastfs",
			DirectMount:   true,
			AllowOther:    opts.AllowOther,
			Debug:         opts.DebugFUSE,
			MaxBackground: 64,
			// Reads answer with block slices (pinnedResult), never file
			// descriptors: splicing could only fail, once per READ.
			DisableSplice: true,
			// 1 MiB READs (go-fuse sets max_read = MaxWrite) and kernel
			// readahead up to 1 MiB; our own prefetch goes further.
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			// A panic in a handler fails that operation with EIO, is
			// logged with its stack, and the mount stays up.
			PanicHandler: root.m.panicked,
			// "ro" makes the kernel refuse every write with EROFS.
			Options: []string{"ro", "default_permissions"},
		},
		NegativeTimeout: &negative,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
	}
	srv, err := gofs.Mount(mountpoint, root, fo)
	if err != nil {
		return nil, nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	return srv, root, nil
}

const rootReadme = `mastfs: the MAST archive as a read-only directory tree.

  criteria/<name>=<value>/...      query_criteria, e.g. criteria/obs_collection=HST/proposal_id=12062/
  region/<ra dec>/[radius=..]/...  query_region (+ criteria), e.g. region/322.49324,12.16683/radius=5arcmin/
  object/<name>/...                query_object (+ criteria), e.g. object/M101/obs_collection=GALEX/
  obsid/<id>[,<id>...]/            get_product_list for Product Group IDs

Values: a,b,c (OR), wildcards with * or %, lo..hi ranges on continuous columns,
ISO dates on time columns; %2F is '/', %2C a literal ',', %25 a literal '%'.
Segments starting with @ filter products: @mrp, @extension=fits,fits.gz,
@productType=SCIENCE, @calib_level=<=2, !negation.

In a query directory: one file per unique product, and (by name, not listed)
.count with the observation count.
`

const criteriaReadme = `criteria/: one directory level per criterion, in any order.

  criteria/obs_collection=HST/proposal_id=12062/
  criteria/instrument_name=ACS%2FWFC/t_min=2020-01-01..2020-02-01/
  criteria/target_name=M*/dataproduct_type=image,spectrum/@mrp/

Names are observation columns (case-insensitive); objectname=, coordinates=,
radius= and resolver= add a position. At least one non-positional criterion
is needed before a directory lists products.
`

func rootChildren(m *mountState) map[string]func() (gofs.InodeEmbedder, gofs.StableAttr) {
	readme := func(name, text string) func() (gofs.InodeEmbedder, gofs.StableAttr) {
		return textChild(m, identityIno("static", name), time.Hour, func(context.Context) ([]byte, error) { return []byte(text), nil })
	}
	prefix := func(name, text string, kind Kind) func() (gofs.InodeEmbedder, gofs.StableAttr) {
		ino := identityIno("prefix", name)
		return func() (gofs.InodeEmbedder, gofs.StableAttr) {
			readmeChild := readme(name+"/README.txt", text)
			if kind == KindCriteria {
				readmeChild = textChild(m, identityIno("static", name+"/README.txt"), time.Hour, func(ctx context.Context) ([]byte, error) {
					return criteriaReadmeText(ctx, m.archive)
				})
			}
			d := &staticDir{m: m, children: map[string]func() (gofs.InodeEmbedder, gofs.StableAttr){
				"README.txt": readmeChild,
			}}
			d.lookup = func(ctx context.Context, seg string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
				spec, err := m.anchorSpec(ctx, kind, seg)
				if err != nil {
					m.log.Warn("bad path segment", "segment", seg, "dir", name, "reason", err)
					return nil, toErrno(err)
				}
				return m.newQueryDir(ctx, d.EmbeddedInode(), spec, out), 0
			}
			return d, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino}
		}
	}
	return map[string]func() (gofs.InodeEmbedder, gofs.StableAttr){
		"README.txt": readme("README.txt", rootReadme),
		".mastfs":    statsDir(m),
		"criteria":   prefix("criteria", criteriaReadme, KindCriteria),
		"region":     prefix("region", "region/<position>/: a cone search around a position.\n  region/322.49324,12.16683/\n  region/21:29:58.38 +12:10:00.6/radius=5arcmin/obs_collection=HST/\nDefault radius 0.2 deg.\n", KindRegion),
		"object":     prefix("object", "object/<name>/: a cone search around a resolved object name.\n  object/M101/\n  object/M8/radius=0.02deg/obs_collection=K2,IUE/\n", KindObject),
		"missions":   missionsChild(m),
		"metadata":   metadataChild(m),
		"uri": func() (gofs.InodeEmbedder, gofs.StableAttr) {
			return &uriDir{m: m}, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: identityIno("prefix", "uri")}
		},
		"obsid": prefix("obsid", "obsid/<obsid>[,<obsid>...]/: the products of MAST Product Group IDs.\n  obsid/2003738726/\n", KindObsid),
	}
}

// anchorSpec builds the spec of the first directory under a prefix, checking
// what can be checked without a query.
func (m *mountState) anchorSpec(ctx context.Context, kind Kind, seg string) (QuerySpec, error) {
	if kind == KindCriteria {
		base, _ := RootSpec(KindCriteria, "")
		spec, err := base.With(seg)
		if err != nil {
			return spec, err
		}
		return spec, m.checkCriteria(ctx, spec)
	}
	spec, err := RootSpec(kind, seg)
	if err != nil {
		return spec, err
	}
	if kind == KindObject {
		if name, resolver, ok := spec.ObjectName(); ok {
			if _, _, err := m.runner.resolve(ctx, name, resolver); err != nil {
				return spec, err
			}
		}
	}
	return spec, nil
}

// columnLister is the optional part of Archive that criteria/README.txt uses.
type columnLister interface {
	ColumnsConfig(ctx context.Context, service string) (*mast.ColumnConfig, error)
}

// criteriaReadmeText is criteria/README.txt: the grammar, then every valid
// column with its label, from the column configuration of Mast.Caom.Cone.
func criteriaReadmeText(ctx context.Context, a Archive) ([]byte, error) {
	var b strings.Builder
	b.WriteString(criteriaReadme)
	cl, ok := a.(columnLister)
	if !ok {
		return []byte(b.String()), nil
	}
	cc, err := cl.ColumnsConfig(ctx, mast.ServiceCone)
	if err != nil {
		return nil, err
	}
	b.WriteString("\nColumns (name, label, type, example):\n")
	for _, c := range cc.Columns {
		if c.Remove || c.Name == "_selected_" {
			continue
		}
		kind := "discrete: values, lists, wildcards"
		if c.Continuous() {
			kind = "continuous: lo..hi ranges"
			if c.MJD() {
				kind += ", MJD or ISO dates"
			}
		}
		fmt.Fprintf(&b, "  %-24s %-28s %s", c.Name, c.Label(), kind)
		if c.Example != "" {
			fmt.Fprintf(&b, "  (%s)", strings.ReplaceAll(c.Example, "\n", " "))
		}
		b.WriteString("\n")
	}
	return []byte(b.String()), nil
}
