package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
)

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, gz bool) string {
		p := filepath.Join(dir, name)
		data := []byte(content)
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jsonl := "\ufeff  {\"id\":\"a\",\"title\":\"T\",\"text\":\"body\"}\n\n{\"pmid\":7,\"text\":\"x\"}\n"
	tests := []struct {
		name, path string
		want       []string // id=text
		wantErr    string
	}{
		{"jsonl with BOM", write("a.jsonl", jsonl, false), []string{"a=T\nbody", "7=x"}, ""},
		{"gzipped jsonl", write("a.jsonl.gz", jsonl, true), []string{"a=T\nbody", "7=x"}, ""},
		{"plain text", write("p.txt", "IL-2 {gene} expression.\n", false), []string{filepath.Join(dir, "p.txt") + "=IL-2 {gene} expression.\n"}, ""},
		{"bad line", write("b.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n{\"text\":\"no id\"}\n", false), nil, "b.jsonl:2: id: missing"},
		{"missing file", filepath.Join(dir, "nope.jsonl"), nil, "nope.jsonl"},
		{"duplicate id", write("d.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n{\"pmid\":\"a\",\"text\":\"z\"}\n", false), nil,
			`d.jsonl:3: duplicate document id "a" (first on line 1)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := readInput(context.Background(), tc.path, 1<<20)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				// The size hint belongs to size problems only.
				if strings.Contains(tc.name, "duplicate") && strings.Contains(err.Error(), "--max-doc-bytes") {
					t.Fatalf("err = %v: a duplicate id is not a size problem", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.ID+"="+d.Text)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("docs %q, want %q", got, tc.want)
			}
		})
	}
}

// inputTexts reads in as worker annotate does: document id → its text in
// code points, for checking output offsets.
func inputTexts(t *testing.T, in string) map[string][]rune {
	t.Helper()
	docs, err := readInput(context.Background(), in, document.DefaultMaxDocBytes)
	if err != nil {
		t.Fatal(err)
	}
	text := map[string][]rune{}
	for _, d := range docs {
		text[d.ID] = []rune(d.Text)
	}
	return text
}
