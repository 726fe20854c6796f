package fs

import (
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestOpenFlags(t *testing.T) {
	for _, c := range []struct {
		flags uint32
		keep  bool
		want  uint32
	}{
		{syscall.O_RDONLY, true, fuse.FOPEN_KEEP_CACHE},
		{syscall.O_RDONLY, false, 0},
		{syscall.O_RDONLY | syscall.O_DIRECT, true, fuse.FOPEN_DIRECT_IO | fuse.FOPEN_KEEP_CACHE},
		{syscall.O_RDONLY | syscall.O_DIRECT, false, fuse.FOPEN_DIRECT_IO},
	} {
		if got := openFlags(c.flags, c.keep); got != c.want {
			t.Errorf("openFlags(%#x, %v) = %#x, want %#x", c.flags, c.keep, got, c.want)
		}
	}
	if blockIdentity("mast:A/x", 10, `"e1"`) == blockIdentity("mast:A/x", 10, `"e2"`) ||
		blockIdentity("mast:A/x", 10, "") == blockIdentity("mast:A/x", 11, "") {
		t.Error("block identity ignores the ETag or the size")
	}
}
