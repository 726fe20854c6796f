package fs

import (
	"context"
	"errors"
	"path"
	"regexp"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/mastfs/mastfs/mast"
)

// uriDir is a directory inside uri/: the data URI prefix so far, such as
// "mast:HST/product". A component that contains a dot is asked of the
// archive (HEAD): a product makes it a file, anything else ENOENT. A
// component without a dot is an intermediate directory and costs nothing,
// which is what MAST data URIs look like (mast:<COLLECTION>/product/<file>,
// mast:GALEX/url/data/.../x.fits.gz, mast:HLA/url/cgi-bin/getdata.cgi?...).
type uriDir struct {
	readOnly
	m      *mountState
	prefix string // "" for uri/ itself
}

var (
	_ gofs.NodeLookuper  = (*uriDir)(nil)
	_ gofs.NodeReaddirer = (*uriDir)(nil)
	_ gofs.NodeGetattrer = (*uriDir)(nil)
)

// uriScheme is the first component of every data URI mastfs passes on: only
// MAST data URIs ever reach the download service, never arbitrary URLs.
var uriScheme = regexp.MustCompile(`^mast:[A-Za-z0-9_.-]+$`)

const uriReadme = `uri/<dataURI>: one product by its MAST data URI (download_file).

  uri/mast:HST/product/jbeveoesq_flt.fits
  uri/mast:HLA/url/cgi-bin/getdata.cgi?filename=hst_05206_01_wfpc2_f375n_wf_daophot_trm.cat

Components without a dot are directories; the component with the file name is
the product, checked with one HEAD request.
`

func (d *uriDir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.m.dirAttr(&out.Attr, d.StableAttr().Ino)
	out.SetTimeout(staticTTL)
	return 0
}

func (d *uriDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	if d.prefix != "" {
		return gofs.NewListDirStream(nil), 0
	}
	return gofs.NewListDirStream([]fuse.DirEntry{{Name: "README.txt", Mode: fuse.S_IFREG, Ino: identityIno("static", "uri/README.txt")}}), 0
}

func (d *uriDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if d.prefix == "" && name == "README.txt" {
		mk := textChild(d.m, identityIno("static", "uri/README.txt"), staticTTL, func(context.Context) ([]byte, error) { return []byte(uriReadme), nil })
		node, attr := mk()
		ch := d.NewInode(ctx, node, attr)
		d.m.fileAttr(&out.Attr, attr.Ino, int64(len(uriReadme)), d.m.started)
		return ch, 0
	}
	if d.prefix == "" {
		if !uriScheme.MatchString(name) {
			d.m.log.Warn("bad data URI", "component", name, "reason", "a data URI starts with mast:<COLLECTION>, e.g. uri/mast:HST/product/x.fits")
			return nil, syscall.ENOENT
		}
		return d.child(ctx, name, out), 0
	}
	uri := d.prefix + "/" + name
	if !strings.Contains(name, ".") {
		return d.child(ctx, uri, out), 0
	}
	if hide, err := d.m.runner.hidden(ctx, uri); err != nil || hide {
		if err == nil {
			d.m.log.Warn("product not in the cloud (--cloud only)", "uri", uri)
			return nil, syscall.ENOENT
		}
		d.m.log.Warn("product lookup failed", "uri", uri, "err", err)
		return nil, toErrno(err)
	}
	info, err := d.m.source.Head(ctx, uri)
	if err != nil {
		if errors.Is(err, mast.ErrNotFound) {
			d.m.log.Warn("no such product", "uri", uri)
		} else {
			d.m.log.Warn("product lookup failed", "uri", uri, "err", err)
		}
		return nil, toErrno(err)
	}
	p := &product{Name: name, URI: uri, Size: info.Size, Row: mast.Row{"dataURI": uri, "productFilename": path.Base(uri)},
		Columns: []mast.Field{{Name: "dataURI", Type: "string"}, {Name: "productFilename", Type: "string"}}}
	ch := d.NewInode(ctx, &productFile{m: d.m, p: p}, gofs.StableAttr{Mode: fuse.S_IFREG, Ino: p.ino()})
	size := p.Size
	if size < 0 {
		size = max(d.m.learnedSize(uri), 0)
		out.SetAttrTimeout(0)
	} else {
		out.SetAttrTimeout(productTTL)
	}
	d.m.fileAttr(&out.Attr, p.ino(), size, p.Mtime)
	out.SetEntryTimeout(d.m.ttl)
	return ch, 0
}

func (d *uriDir) child(ctx context.Context, prefix string, out *fuse.EntryOut) *gofs.Inode {
	ino := identityIno("uri", prefix)
	ch := d.NewInode(ctx, &uriDir{m: d.m, prefix: prefix}, gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: ino})
	d.m.dirAttr(&out.Attr, ino)
	out.SetEntryTimeout(staticTTL)
	out.SetAttrTimeout(staticTTL)
	return ch
}
