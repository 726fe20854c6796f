package download

import (
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Reporter shows a run's progress. Its methods are called from several
// workers at once.
type Reporter interface {
	// Start: n products, total bytes to fetch (as far as sizes are known).
	Start(n int, total int64)
	// File begins a download of size bytes (-1 unknown) from offset from.
	File(it Item, size, from int64) FileBar
	// Done reports a product's result (skips and errors included).
	Done(it Item, r Result)
	// Finish waits for the output to be complete.
	Finish()
}

// FileBar is one file's progress.
type FileBar interface {
	Add(n int)
	Complete()
	Abort()
}

type nopReporter struct{}

func (nopReporter) Start(int, int64)                {}
func (nopReporter) File(Item, int64, int64) FileBar { return nopBar{} }
func (nopReporter) Done(Item, Result)               {}
func (nopReporter) Finish()                         {}

type nopBar struct{}

func (nopBar) Add(int)   {}
func (nopBar) Complete() {}
func (nopBar) Abort()    {}

// Lines is a Reporter for output that is not a terminal: one line per
// product when it ends, and a summary.
func Lines(w io.Writer) Reporter { return &lines{w: w} }

type lines struct {
	mu                 sync.Mutex
	w                  io.Writer
	n, done            int
	bytes              int64
	complete, failures int
}

func (l *lines) Start(n int, total int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n = n
	fmt.Fprintf(l.w, "downloading %d product(s), %d bytes to fetch\n", n, total)
}

func (l *lines) File(Item, int64, int64) FileBar { return nopBar{} }

func (l *lines) Done(it Item, r Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	l.bytes += r.Fetched
	msg := ""
	if r.Message != "" {
		msg = ": " + r.Message
	}
	if r.Status == Error {
		l.failures++
	}
	fmt.Fprintf(l.w, "[%d/%d] %s %s (%d bytes fetched)%s\n", l.done, l.n, r.Status, it.Local, r.Fetched, msg)
}

func (l *lines) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "done: %d product(s), %d bytes fetched, %d error(s)\n", l.n, l.bytes, l.failures)
}

// Bars is a Reporter for a terminal: a bar per file being downloaded and
// a bar of total bytes (mpb).
func Bars(w io.Writer) Reporter { return &bars{w: w} }

type bars struct {
	w     io.Writer
	p     *mpb.Progress
	total *mpb.Bar
	mu    sync.Mutex
	errs  []string
}

func (b *bars) Start(n int, total int64) {
	b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithWidth(32), mpb.WithAutoRefresh())
	b.total = b.p.AddBar(total,
		mpb.BarPriority(1<<30), // last line
		mpb.PrependDecorators(
			decor.Name(fmt.Sprintf("total (%d files)", n), decor.WC{W: 28, C: decor.DindentRight}),
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{W: 22}),
		),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")),
	)
}

func (b *bars) File(it Item, size, from int64) FileBar {
	name := path.Base(it.Rel)
	if len(name) > 28 {
		name = "…" + name[len(name)-27:]
	}
	total := size
	if total < 0 {
		total = 0
	}
	bar := b.p.AddBar(total,
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(
			decor.Name(name, decor.WC{W: 28, C: decor.DindentRight}),
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{W: 22}),
		),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5})),
	)
	if from > 0 {
		bar.SetCurrent(from)
	}
	return &fileBar{b: bar, total: b.total, unknown: size < 0}
}

func (b *bars) Done(it Item, r Result) {
	if r.Status == Error {
		b.mu.Lock()
		b.errs = append(b.errs, fmt.Sprintf("ERROR %s: %s", it.Local, r.Message))
		b.mu.Unlock()
	}
}

func (b *bars) Finish() {
	b.total.SetTotal(-1, true)
	b.p.Wait()
	for _, e := range b.errs {
		fmt.Fprintln(b.w, e)
	}
}

type fileBar struct {
	b, total *mpb.Bar
	unknown  bool
	n        int64
}

func (f *fileBar) Add(n int) {
	f.n += int64(n)
	if f.unknown {
		f.b.SetTotal(f.n+1, false)
	} else {
		f.total.IncrBy(n)
	}
	f.b.IncrBy(n)
}

func (f *fileBar) Complete() {
	if f.unknown {
		f.total.IncrInt64(f.n)
	}
	f.b.SetTotal(-1, true)
}

func (f *fileBar) Abort() { f.b.Abort(true) }
