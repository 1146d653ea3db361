package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// bar renders ingest progress on a terminal: bytes read against the total
// size of the files to read (MB/s and ETA), the current file and the
// documents published.
type bar struct {
	w     io.Writer
	pb    *progressbar.ProgressBar
	files int
	file  int
	name  string
	docs  int64
}

func newBar(w io.Writer) *bar { return &bar{w: w} }

func (b *bar) Start(files int, total int64) {
	b.files = files
	b.pb = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(150*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	b.describe()
}

func (b *bar) describe() {
	if b.pb != nil {
		b.pb.Describe(fmt.Sprintf("file %d/%d %s · %d docs", b.file+1, b.files, b.name, b.docs))
	}
}

func (b *bar) File(i int, name string) { b.file, b.name = i, name; b.describe() }

func (b *bar) Read(n int64) {
	if b.pb != nil {
		_ = b.pb.Add64(n)
	}
}

func (b *bar) Docs(n int) { b.docs += int64(n); b.describe() }

func (b *bar) Finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}
