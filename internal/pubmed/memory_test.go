package pubmed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeSynthetic writes a PubMed file of about size bytes, made of realistic
// articles (structured abstracts, markup, references) and returns how many
// records it holds.
func writeSynthetic(w io.Writer, size int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	n, _ := io.WriteString(bw, header)
	written := int64(n)
	sentence := "Activation of the <i>NF-kappa B</i> transcription factor in CD4<sup>+</sup> T cells requires Ca<sup>2+</sup> signalling and IL-2 receptor expression. "
	var recs int64
	for written < size {
		var abs strings.Builder
		for s := range 3 + recs%4 {
			fmt.Fprintf(&abs, `<AbstractText Label="PART %d" NlmCategory="RESULTS">%s</AbstractText>`, s, strings.Repeat(sentence, 2+int(recs%3)))
		}
		a := article(fmt.Sprint(10000000+recs), "1", fmt.Sprintf("Synthetic article %d about <i>STAT3</i> &amp; gene expression.", recs), abs.String())
		n, err := io.WriteString(bw, a+"\n")
		if err != nil {
			return recs, err
		}
		written += int64(n)
		recs++
	}
	if _, err := io.WriteString(bw, "</PubmedArticleSet>\n"); err != nil {
		return recs, err
	}
	return recs, bw.Flush()
}

type memResult struct {
	bytes, records      int64
	totalAlloc, peak    uint64
	elapsed             time.Duration
	mallocsPerRecord    float64
	allocBytesPerRecord float64
}

func parseMeasured(t testing.TB, path string) memResult {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	var before, ms runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	start := time.Now()
	st, err := Parse(context.Background(), f, filepath.Base(path), func(r Record) error {
		if r.Index%200 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	return memResult{bytes: st.Bytes, records: st.Records, totalAlloc: ms.TotalAlloc - before.TotalAlloc, peak: peak, elapsed: elapsed,
		mallocsPerRecord:    float64(ms.Mallocs-before.Mallocs) / float64(st.Records),
		allocBytesPerRecord: float64(ms.TotalAlloc-before.TotalAlloc) / float64(st.Records)}
}

// TestParseMemoryFlat parses a generated 70 MB file and a 7 MB one and
// checks that the peak heap does not grow with the file size.
func TestParseMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and parses 77 MB")
	}
	dir := t.TempDir()
	results := map[int64]memResult{}
	for _, size := range []int64{7 << 20, 70 << 20} {
		path := filepath.Join(dir, fmt.Sprintf("synthetic%d.xml", size))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := writeSynthetic(f, size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		r := parseMeasured(t, path)
		if r.records != recs {
			t.Fatalf("parsed %d records, wrote %d", r.records, recs)
		}
		results[size] = r
		t.Logf("%5.1f MB, %d records: %.1f s (%.1f MB/s), allocated %.0f MB in total (%.0f allocs, %.1f KB per record), peak heap %.1f MB",
			float64(r.bytes)/1e6, r.records, r.elapsed.Seconds(), float64(r.bytes)/1e6/r.elapsed.Seconds(),
			float64(r.totalAlloc)/1e6, r.mallocsPerRecord, r.allocBytesPerRecord/1e3, float64(r.peak)/1e6)
	}
	small, big := results[7<<20], results[70<<20]
	if big.peak > 48<<20 {
		t.Errorf("peak heap %.1f MB on a 70 MB file", float64(big.peak)/1e6)
	}
	if big.peak > 2*small.peak+8<<20 {
		t.Errorf("peak heap grows with the file: %.1f MB (7 MB file) -> %.1f MB (70 MB file)", float64(small.peak)/1e6, float64(big.peak)/1e6)
	}
}

func BenchmarkParse(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.xml")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := writeSynthetic(f, 8<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	var r memResult
	for b.Loop() {
		r = parseMeasured(b, path)
	}
	b.ReportMetric(float64(r.peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(r.records)/r.elapsed.Seconds(), "records/s")
}
