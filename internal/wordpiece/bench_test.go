package wordpiece

import (
	"os"
	"testing"
)

// benchTokenizer loads the production vocabulary (testdata/tinybert at the
// repository root) or, without it, the cased test configuration.
func benchTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	path := "../../testdata/tinybert/tokenizer.json"
	if _, err := os.Stat(path); err != nil {
		path = "testdata/cased/tokenizer.json"
	}
	tk, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

func develTexts(tb testing.TB) []string {
	tb.Helper()
	texts, err := docTexts(corpusFile("devel.docs.jsonl"))
	if err != nil {
		tb.Skipf("JNLPBA devel documents not available: %v", err)
	}
	return texts
}

// BenchmarkEncode encodes every JNLPBA devel abstract per iteration with a
// reused Encoding; MB/s is input bytes per second.
func BenchmarkEncode(b *testing.B) {
	for _, cfg := range []struct{ name, path string }{
		{"cased", ""},
		{"uncased", "testdata/uncased/tokenizer.json"},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			tk := benchTokenizer(b)
			if cfg.path != "" {
				var err error
				if tk, err = Load(cfg.path); err != nil {
					b.Fatal(err)
				}
			}
			texts := develTexts(b)
			size, pieces := 0, 0
			var enc Encoding
			for _, s := range texts {
				size += len(s)
				tk.EncodeTo(&enc, s)
				pieces += enc.Len()
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, s := range texts {
					tk.EncodeTo(&enc, s)
				}
			}
			b.ReportMetric(float64(pieces)*float64(b.N)/b.Elapsed().Seconds(), "pieces/s")
		})
	}
}

// TestEncodeToNoAllocs checks that a warm Encoding encodes without
// allocating.
func TestEncodeToNoAllocs(t *testing.T) {
	for _, path := range []string{"testdata/cased/tokenizer.json", "testdata/uncased/tokenizer.json", "testdata/raw/tokenizer.json"} {
		tk, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		texts := append(develTexts(t)[:20], "İstanbul café e\u0301\u0323 中文 [SEP] αβγ \x00\u200b😀")
		var enc Encoding
		for _, s := range texts {
			tk.EncodeTo(&enc, s)
		}
		allocs := testing.AllocsPerRun(5, func() {
			for _, s := range texts {
				tk.EncodeTo(&enc, s)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: EncodeTo allocates %.1f times per %d texts on a warm Encoding", path, allocs, len(texts))
		}
	}
}

// TestConcurrentEncode encodes the same texts from several goroutines, each
// with its own Encoding, and compares with a sequential run (run it with
// -race to check that a Tokenizer is safe to share).
func TestConcurrentEncode(t *testing.T) {
	tk, err := Load("testdata/uncased/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	texts := develTexts(t)[:40]
	want := make([]*Encoding, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s)
	}
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			var enc Encoding
			for i, s := range texts {
				tk.EncodeTo(&enc, s)
				if !equalEnc(&enc, want[i]) {
					errs <- s
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if s := <-errs; s != "" {
			t.Errorf("concurrent encoding of %q differs", trunc(s, 80))
		}
	}
}
