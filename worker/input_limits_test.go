package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAnnotateInputLimits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, data string
		max        int
		want       string // error substring; "" = accepted
		docs       int
	}{
		{"small.txt", "IL-2 gene expression.", 1000, "", 1},
		{"big.txt", strings.Repeat("IL-2 gene. ", 200), 1000, "plain-text document is larger than --max-doc-bytes 1000", 0},
		{"ok.jsonl", `{"id":"a","text":"x"}` + "\n\n" + `{"id":"b","text":"y"}`, 1000, "", 2},
		{"dup.jsonl", `{"id":"a","text":"x"}` + "\n" + `{"id":"b","text":"y"}` + "\n" + `{"id":"a","text":"z"}`, 1000, `dup.jsonl:3: duplicate document id "a" (first on line 1)`, 0},
		{"bigdoc.jsonl", `{"id":"a","text":"x"}` + "\n" + `{"id":"huge","text":"` + strings.Repeat("y", 1500) + `"}`, 1000, `bigdoc.jsonl:2: document "huge"`, 0},
		{"hugeline.jsonl", `{"id":"a","text":"x"}` + "\n" + `{"id":"huge","text":"` + strings.Repeat("y", 200_000) + `"}`, 1000, "hugeline.jsonl:2: line longer than", 0},
		{"emptyid.jsonl", `{"id":" ","text":"x"}`, 1000, "emptyid.jsonl:1", 0},
		{"badutf8.jsonl", "{\"id\":\"a\xff\",\"text\":\"x\"}", 1000, "", 1}, // json.Unmarshal replaces invalid bytes with U+FFFD
		{"utf16.jsonl", "\xff\xfe{\x00\"\x00i\x00d\x00\"\x00", 1000, "encoded as UTF-16LE", 0},
		{"utf16.txt", "\xfe\xff\x00I\x00L\x00-\x002", 1000, "encoded as UTF-16BE", 0},
		{"dupid.jsonl", `{"id":"a","text":"x"}` + "\n" + `{"id":"a\u2028","text":"y"}`, 1000, `dupid.jsonl:2: document "a\u2028": id: contains the control or line-separator character U+2028`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.name, tc.data)
			docs, err := readInput(context.Background(), p, tc.max)
			if tc.want == "" {
				if err != nil || len(docs) != tc.docs {
					t.Fatalf("got %d docs, %v; want %d docs", len(docs), err, tc.docs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want %q naming %s", err, tc.want, p)
			}
		})
	}
}

// The 100 MB document of the issue is refused in well under a second by
// `worker annotate`, before the model is even loaded, naming the file.
func TestAnnotateRefuses100MBDocumentAtOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.txt")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("IL-2 gene expression in T cells. ", 31) + "\n")
	for n := 0; n < 100<<20; n += len(line) {
		f.Write(line)
	}
	f.Close()
	t0 := time.Now()
	err = cmdAnnotate(context.Background(), []string{"--in", p, "--model", "../testdata/tinybert"})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "--max-doc-bytes") {
		t.Fatalf("annotate of a 100 MB document: %v, want a refusal naming %s and the flag", err, p)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("refusal took %s", d)
	}
}
