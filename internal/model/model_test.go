package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tiny = "../../testdata/tinybert"

// copyBundle copies the tiny bundle to a temp dir and applies edit.
func copyBundle(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	os.MkdirAll(dir, 0o755)
	ents, err := os.ReadDir(tiny)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(tiny, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

func editConfig(t *testing.T, dir string, f func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	raw, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	raw, _ = json.Marshal(m)
	os.WriteFile(p, raw, 0o644)
}

func TestLoadBundle(t *testing.T) {
	b, err := LoadBundle(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Labels) != 11 || b.Labels[0] != "O" || b.MaxLength != 128 || b.Name != "tinybert" {
		t.Fatalf("bundle = %+v", b)
	}
	if b.ID() != "tinybert-"+b.Version[:12] {
		t.Fatalf("ID %s", b.ID())
	}
}

func TestBrokenBundlesAreRejected(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, dir string)
		want string // in LoadBundle's or NewSession's error
	}{
		{"missing model", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.onnx")) }, "model.onnx"},
		{"missing config", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "config.json")) }, "config.json"},
		{"bad config json", func(t *testing.T, d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{"), 0o644) }, "config.json"},
		{"no tokenizer", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "tokenizer.json"))
			os.Remove(filepath.Join(d, "vocab.txt"))
		}, "tokenizer"},
		{"id2label gap", func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { delete(m["id2label"].(map[string]any), "3") })
		}, "without gaps"},
		{"non-BIO label", func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { m["id2label"].(map[string]any)["1"] = "GENE" })
		}, "not a BIO label"},
		{"duplicate label", func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) { m["id2label"].(map[string]any)["3"] = "B-DNA" })
		}, `config.json: id2label has label "B-DNA" twice (ids 1 and 3)`},
		{"labels do not match logits", func(t *testing.T, d string) {
			editConfig(t, d, func(m map[string]any) {
				m["id2label"] = map[string]any{"0": "O", "1": "B-DNA", "2": "I-DNA"}
				delete(m, "label2id")
				delete(m, "num_labels")
			})
		}, "labels"},
		{"garbage graph", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "model.onnx"), []byte("this is not an onnx file"), 0o644)
		}, "model.onnx"},
		{"truncated graph", func(t *testing.T, d string) {
			p := filepath.Join(d, "model.onnx")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "model.onnx"},
		{"bad crf", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "crf.json"), []byte(`{"transitions": [[0]], "start": [0], "end": [0]}`), 0o644)
		}, "crf.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyBundle(t, func(d string) { c.edit(t, d) })
			b, err := LoadBundle(dir)
			if err == nil {
				var s *Session
				s, err = NewSession(b, WithBatchSize(2), WithDevice(Device{Kind: "cpu"}))
				if err == nil {
					s.Close()
					t.Fatal("broken bundle accepted")
				}
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestSessionFixedShapeAndRowIndependence(t *testing.T) {
	b, err := LoadBundle(tiny)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(b, WithBatchSize(4), WithDevice(Device{Kind: "cpu"}), WithThreads(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	B, T, L := s.BatchSize(), s.SeqLen(), s.NumLabels()
	if s.Device().Kind != "cpu" {
		t.Fatalf("device %v", s.Device())
	}
	if _, err := s.Run(context.Background(), make([]int64, B*T-1), make([]int64, B*T-1)); err == nil {
		t.Fatal("a short batch was accepted: batches must be exactly [B,T]")
	}
	enc := b.Tokenizer.Encode("IL-2 gene expression requires NF-kappa B in T cells.")
	row := func(ids, mask []int64, r int) {
		ids[r*T] = b.Tokenizer.CLS()
		copy(ids[r*T+1:], enc.IDs)
		ids[r*T+1+len(enc.IDs)] = b.Tokenizer.SEP()
		for i := 0; i < len(enc.IDs)+2; i++ {
			mask[r*T+i] = 1
		}
	}
	ids, mask := make([]int64, B*T), make([]int64, B*T)
	row(ids, mask, 0)
	out, err := s.Run(context.Background(), ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != B*T*L {
		t.Fatalf("logits %d, want %d", len(out), B*T*L)
	}
	alone := append([]float32(nil), out[:T*L]...)
	// Same sentence in row 2 with other rows full of other tokens: its logits
	// must not change (exactly-once output relies on it).
	ids, mask = make([]int64, B*T), make([]int64, B*T)
	for i := range ids {
		ids[i], mask[i] = 100+int64(i%50), 1
	}
	for i := 2 * T; i < 3*T; i++ {
		ids[i], mask[i] = 0, 0
	}
	row(ids, mask, 2)
	out, err = s.Run(context.Background(), ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	n := (len(enc.IDs) + 2) * L
	for i := 0; i < n; i++ {
		if d := out[2*T*L+i] - alone[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logit %d differs by %g when neighbours change", i, d)
		}
	}
}

func TestCUDARequestedWithoutCUDAIsAClearError(t *testing.T) {
	b, err := LoadBundle(tiny)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(b, WithBatchSize(1), WithDevice(Device{Kind: "cuda"}))
	if err == nil {
		// A CUDA build of ONNX Runtime with a GPU: nothing to check here.
		s.Close()
		t.Skip("CUDA is available")
	}
	if !strings.Contains(err.Error(), "CUDA") {
		t.Fatalf("error %q does not say CUDA is unavailable", err)
	}
	if _, err := ResolveDevice(Device{Kind: "cuda"}, nil); err == nil || !strings.Contains(err.Error(), "CUDA") {
		t.Fatalf("ResolveDevice(cuda) = %v, want the same CUDA error as NewSession", err)
	}
	if d, err := ResolveDevice(Device{Kind: "auto"}, nil); err != nil || d.Kind != "cpu" {
		t.Fatalf("ResolveDevice(auto) = %v, %v; want cpu", d, err)
	}
	// auto falls back to CPU.
	s, err = NewSession(b, WithBatchSize(1), WithDevice(Device{Kind: "auto"}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Device().Kind != "cpu" {
		t.Fatalf("auto chose %v", s.Device())
	}
}

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "auto": "auto", "cpu": "cpu", "cuda": "cuda:0", "cuda:3": "cuda:3"} {
		d, err := ParseDevice(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"gpu:x", "cuda:-1", "tpu"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) accepted", bad)
		}
	}
}

func TestLibraryNotFoundIsClear(t *testing.T) {
	t.Setenv(LibraryEnv, "/nonexistent/libonnxruntime.so.1")
	_, err := FindLibrary()
	if err == nil || !strings.Contains(err.Error(), LibraryEnv) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkRunTiny(b *testing.B) {
	bd, err := LoadBundle(tiny)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSession(bd, WithBatchSize(32), WithDevice(Device{Kind: "cpu"}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids, mask := make([]int64, 32*128), make([]int64, 32*128)
	for i := range ids {
		ids[i], mask[i] = 5+int64(i%1000), 1
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Run(context.Background(), ids, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "windows/s")
}

// TestWarmupOnlyWhenAskedOrNeeded: the test bundle declares its label
// dimension, so a session starts without a warm-up batch unless asked.
func TestWarmupOnlyWhenAskedOrNeeded(t *testing.T) {
	b, err := LoadBundle(tiny)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{false, true} {
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		s, err := NewSession(b, WithBatchSize(2), WithDevice(Device{Kind: "cpu"}), WithWarmup(want), WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got := strings.Contains(buf.String(), fmt.Sprintf(`"warmup":%v`, want)); !got {
			t.Errorf("WithWarmup(%v): session log %s", want, buf.String())
		}
	}
}
