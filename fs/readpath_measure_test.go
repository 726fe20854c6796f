package fs

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/mastfs/mastfs/mast/mastemu"
)

// TestMeasureBlockSize is a measurement, not a check: with MASTFS_MEASURE=1
// it mounts over versitygw with several block sizes and prints the cold
// sequential throughput, random 64 KiB read latency and bytes fetched per
// byte read (docs/design.md, "Read path").
func TestMeasureBlockSize(t *testing.T) {
	if os.Getenv("MASTFS_MEASURE") != "1" {
		t.Skip("set MASTFS_MEASURE=1")
	}
	const size = 64 << 20
	const key = "hst/public/meas/big_raw.fits"
	for _, bs := range []int{64 << 10, 256 << 10, 1 << 20} {
		cat := mastemu.Recorded()
		p, err := cat.AddProduct("2003738726", map[string]any{
			"dataURI": "mast:HST/product/big_raw.fits", "size": size, "cloudKey": key,
		})
		if err != nil {
			t.Fatal(err)
		}
		keep := func(k, _ string) bool { return k == key }
		// Cold sequential read on a fresh mount.
		m := mountForTest(t, mountConfig{catalog: cat, s3: keep, versitygw: true, blockSize: bs})
		path := m.Path("obsid", "2003738726", p.Filename)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
		el := time.Since(start)
		f.Close()
		if err != nil || n != size {
			t.Fatal(n, err)
		}
		seqBytes, seqGets := m.S3.Client.Stats().Bytes, m.S3.Client.Stats().Gets
		// Random 64 KiB reads on another fresh mount, kernel readahead off.
		m2 := mountForTest(t, mountConfig{catalog: cat, s3: keep, versitygw: true, blockSize: bs})
		f, err = os.Open(m2.Path("obsid", "2003738726", p.Filename))
		if err != nil {
			t.Fatal(err)
		}
		fadviseRandom(t, f)
		buf := make([]byte, 64<<10)
		rng := rand.New(rand.NewPCG(1, 2))
		// Each read in a block no earlier read touched: cold reads only.
		var lat []time.Duration
		blocks := rng.Perm(size/bs - 1)
		reads := min(100, len(blocks))
		for i := 0; i < reads; i++ {
			off := int64(blocks[i])*int64(bs) + rng.Int64N(int64(bs))
			s := time.Now()
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(s))
		}
		f.Close()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		st := m2.S3.Client.Stats()
		fmt.Printf("block %4d KiB: cold seq %6.1f MiB/s, %d GETs, %.3f bytes fetched/byte; random 64K (%d cold): p50 %v p99 %v, %.1f bytes fetched/byte\n",
			bs>>10, float64(size)/(1<<20)/el.Seconds(), seqGets, float64(seqBytes)/size, reads,
			lat[reads/2].Round(10*time.Microsecond), lat[reads*99/100].Round(10*time.Microsecond),
			float64(st.Bytes)/float64(reads*len(buf)))
	}
}
