package fs

// The catalog directories of the root: missions/ (list_missions) and
// metadata/ (get_metadata).

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mastfs/mastfs/mast"
)

// missionsDir is missions/: one query directory per mission name of
// list_missions. missions/<M>/ is criteria/obs_collection=<M>/ (the same Key,
// so the same cached listing, and the same product inodes).
type missionsDir struct {
	readOnly
	m    *mountState
	list *flightCache[[]string] // the mission names, once per --query-ttl
}

var (
	_ gofs.NodeLookuper  = (*missionsDir)(nil)
	_ gofs.NodeReaddirer = (*missionsDir)(nil)
	_ gofs.NodeGetattrer = (*missionsDir)(nil)
)

// missionsChild is the root's missions/ entry. The names are cached per
// mount, not per node, so a node the kernel forgot and looks up again does
// not ask the archive again within the TTL.
func missionsChild(m *mountState) func() (gofs.InodeEmbedder, gofs.StableAttr) {
	list := newFlightCache[[]string](m.ttl, 2*time.Minute)
	ino := identityIno("prefix", "missions")
	return func() (gofs.InodeEmbedder, gofs.StableAttr) {
		return &missionsDir{m: m, list: list}, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino}
	}
}

// missions returns the mission names, sorted bytewise (as astroquery's
// list_missions sorts them).
func (d *missionsDir) missions(ctx context.Context) ([]string, error) {
	names, err := d.list.get(ctx, "", func(ctx context.Context) ([]string, error) {
		names, err := d.m.archive.Missions(ctx)
		if err != nil {
			return nil, err
		}
		names = slices.Clone(names)
		slices.Sort(names)
		return slices.Compact(names), nil
	})
	if err != nil && ctx.Err() == nil {
		d.m.log.Warn("list_missions failed", "err", err)
	}
	return names, err
}

// missionSpec is the query of missions/<name>/, if name can be one: a
// directory name that the criterion grammar reads as exactly one literal
// value (no comma list, wildcard, range or escape).
func missionSpec(name string) (QuerySpec, bool) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return QuerySpec{}, false
	}
	spec, err := RootSpec(KindMissions, name)
	if err != nil {
		return QuerySpec{}, false
	}
	crits := spec.Criteria()
	if len(crits) != 1 || len(crits[0].Values) != 1 {
		return QuerySpec{}, false
	}
	v := crits[0].Values[0]
	if v.Wildcard || v.IsRange || v.Text != name {
		return QuerySpec{}, false
	}
	return spec, true
}

func (d *missionsDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.m.dirAttr(&out.Attr, d.StableAttr().Ino)
	out.SetTimeout(staticTTL)
	return 0
}

func (d *missionsDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	names, err := d.missions(ctx)
	if err != nil {
		return nil, toErrno(err)
	}
	entries := make([]fuse.DirEntry, 0, len(names))
	for _, n := range names {
		spec, ok := missionSpec(n)
		if !ok {
			d.m.log.Debug("mission name cannot be a directory", "mission", n)
			continue
		}
		// The inode newQueryDir gives the directory under this parent.
		ino := queryDirIno(d.StableAttr().Ino, spec)
		entries = append(entries, fuse.DirEntry{Name: n, Mode: fuse.S_IFDIR, Ino: ino})
	}
	return gofs.NewListDirStream(entries), 0
}

func (d *missionsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	names, err := d.missions(ctx)
	if err != nil {
		return nil, toErrno(err)
	}
	if _, found := slices.BinarySearch(names, name); !found {
		for _, n := range names {
			if strings.EqualFold(n, name) {
				d.m.log.Warn("unknown mission", "mission", name, "reason", "Mission '"+name+"' does not exist. Did you mean '"+n+"'?")
				return nil, syscall.ENOENT
			}
		}
		d.m.log.Warn("unknown mission", "mission", name, "reason", "Mission '"+name+"' does not exist (see missions/ for the list)")
		return nil, syscall.ENOENT
	}
	spec, ok := missionSpec(name)
	if !ok {
		d.m.log.Warn("mission name cannot be a directory", "mission", name)
		return nil, syscall.ENOENT
	}
	return d.m.newQueryDir(ctx, d.EmbeddedInode(), spec, out), 0
}

// metadataChild is the root's metadata/ entry: get_metadata("observations")
// and get_metadata("products") as CSV files.
func metadataChild(m *mountState) func() (gofs.InodeEmbedder, gofs.StableAttr) {
	file := func(name, service string) func() (gofs.InodeEmbedder, gofs.StableAttr) {
		return textChild(m, identityIno("static", "metadata/"+name), m.ttl, func(ctx context.Context) ([]byte, error) {
			return m.metadataCSV(ctx, service)
		})
	}
	ino := identityIno("prefix", "metadata")
	return func() (gofs.InodeEmbedder, gofs.StableAttr) {
		return &staticDir{m: m, children: map[string]func() (gofs.InodeEmbedder, gofs.StableAttr){
			"observations.csv": file("observations.csv", mast.ServiceCone),
			"products.csv":     file("products.csv", mast.ServiceProducts),
		}}, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino}
	}
}
