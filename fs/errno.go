package fs

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/mastfs/mastfs/mast"
)

// errTooMany marks a query over --max-observations where a table file was asked for.
var errTooMany = errors.New("query has more observations than --max-observations")

// toErrno is the one place where errors become errnos (contract §4).
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var se *SegmentError
	var ie *mast.InvalidCriteriaError
	var re *mast.ResolveError
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno
	case errors.As(err, &se), errors.As(err, &ie), errors.As(err, &re), errors.Is(err, mast.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, mast.ErrUnauthorized):
		return syscall.EACCES
	case errors.Is(err, errTooMany):
		return syscall.EFBIG
	case errors.Is(err, errStale), errors.Is(err, mast.ErrChanged):
		return syscall.ESTALE
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	default:
		return syscall.EIO
	}
}

// errStale marks a product whose identity changed under an open file.
var errStale = errors.New("product changed under an open file")
