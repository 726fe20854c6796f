package fs

import "testing"

func TestReadaheadSequentialGrowsRandomStops(t *testing.T) {
	const bs, size = 1 << 18, 1 << 30
	var r readahead
	var windows []int64
	for i := int64(0); i < 10; i++ {
		_, n, random := r.observe(i*bs, bs, bs, size)
		if random {
			t.Fatalf("sequential read %d taken as random", i)
		}
		windows = append(windows, n)
	}
	// Doubling, but never more ahead than read so far in the run.
	want := []int64{0, 1, 2, 4, 5, 6, 7, 8, 9, 10}
	for i := range want {
		if windows[i] != want[i] {
			t.Fatalf("windows %v, want %v", windows, want)
		}
	}
	if _, n, random := r.observe(500*bs, 4096, bs, size); n != 0 || !random {
		t.Fatalf("random read prefetched %d blocks (random %v)", n, random)
	}
	if _, n, _ := r.observe(900*bs, 4096, bs, size); n != 0 {
		t.Fatalf("second random read prefetched %d blocks", n)
	}
}

func TestReadaheadToleratesReordering(t *testing.T) {
	const bs, size = 1 << 18, 1 << 30
	var r readahead
	// The kernel may deliver 128 KiB reads slightly out of order.
	offs := []int64{0, 1 << 17, 3 << 17, 2 << 17, 4 << 17, 6 << 17, 5 << 17, 7 << 17}
	var last int64
	for _, off := range offs {
		_, last, _ = r.observe(off, 1<<17, bs, size)
	}
	if last == 0 {
		t.Fatal("reordered sequential reads were taken as random")
	}
}

func TestReadaheadStopsAtEnd(t *testing.T) {
	const bs = 1 << 18
	size := int64(3*bs + 100)
	var r readahead
	for i := int64(0); i < 3; i++ {
		first, n, _ := r.observe(i*bs, bs, bs, size)
		if first+n > 4 {
			t.Fatalf("prefetch past the last block: first %d count %d", first, n)
		}
	}
}

func TestReadaheadReachesCapOnLongRuns(t *testing.T) {
	const bs, size = 1 << 18, 1 << 34
	var r readahead
	var n int64
	for i := int64(0); i < 200; i++ {
		_, n, _ = r.observe(i*(1<<20), 1<<20, bs, size)
	}
	if n != readaheadMaxBlocks {
		t.Fatalf("window after 200 MiB sequential: %d, want the cap %d", n, readaheadMaxBlocks)
	}
}

func TestReadaheadSmallStepsStaySmall(t *testing.T) {
	const bs, size = 1 << 18, 1 << 30
	var r readahead
	var n int64
	// Nine 128 KiB reads (a FITS header walk's first reads): ~1.1 MiB read.
	for i := int64(0); i < 9; i++ {
		_, n, _ = r.observe(i<<17, 1<<17, bs, size)
	}
	if n*bs > 9<<17 {
		t.Fatalf("prefetching %d bytes after reading %d", n*bs, 9<<17)
	}
}
