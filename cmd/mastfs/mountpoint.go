package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// notEmptyError is the refusal to mount over a directory with entries: they
// would be hidden, not lost, until the unmount, which surprises people (a
// mount over the wrong directory, a second mount over a live one).
type notEmptyError struct {
	dir     string
	entries int
	mounted bool
}

func (e *notEmptyError) Error() string {
	noun := "entries"
	if e.entries == 1 {
		noun = "entry"
	}
	s := fmt.Sprintf("mountpoint %s is not empty (%d %s); use --nonempty to mount over it", e.dir, e.entries, noun)
	if e.mounted {
		s += " (a filesystem is already mounted there; `mastfs unmount " + e.dir + "` first if it is an old mastfs)"
	}
	return s
}

// checkMountpointEmpty refuses a mountpoint directory that has entries. It
// runs after clearStaleMount, so a dead mount left by a killed mastfs is
// detached first and what is checked is the directory underneath. Other
// errors (a missing directory, no permission to list it) are left to the
// mount itself, which reports them.
func checkMountpointEmpty(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(1024)
		n += len(names)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil
		}
	}
	if n == 0 {
		return nil
	}
	abs, _ := filepath.Abs(dir)
	return &notEmptyError{dir: dir, entries: n, mounted: mountedAt(abs)}
}
