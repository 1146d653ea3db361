package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/sink"
)

const exportModel = "tiny-0123456789ab"

// exportBucket is a file:// bucket holding one file of worker run output
// with a document per id (one chunk each).
func exportBucket(t *testing.T, ids ...string) (string, *sink.Store) {
	t.Helper()
	dir := t.TempDir()
	url := "file://" + filepath.ToSlash(dir)
	s, err := sink.OpenBucket(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var rows []sink.Row
	for i, id := range ids {
		m := sink.Row{DocID: id, DocVersion: 1, ChunkIndex: sink.DocumentMarker, ModelName: "tiny", ModelVersion: "x",
			Topic: "t", Offset: int64(i), Op: sink.OpUpsert}
		c := m
		c.ChunkIndex, c.Begin, c.End, c.Text, c.Label, c.Passage = 0, 0, 4, "IL-2", "protein", "title"
		rows = append(rows, m, c)
	}
	if err := s.Upload(context.Background(), s.Key(exportModel, "t", 0, 0, int64(len(ids)-1)), rows); err != nil {
		t.Fatal(err)
	}
	return url, s
}

// leftovers lists the files in dir other than keep.
func leftovers(t *testing.T, dir, keep string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != keep {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestExportSkipsAndNamesIDsPubTatorCannotHold: an id with '|' is legal but
// has no PubTator form; the export writes every other document, names the
// skipped ids, and leaves no temporary file.
func TestExportSkipsAndNamesIDsPubTatorCannotHold(t *testing.T) {
	url, _ := exportBucket(t, "A", "B|1", "C")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.pubtator")
	var stderr bytes.Buffer
	if err := runExport(context.Background(), []string{"--in", url, "-o", out}, nil, &stderr); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"A", "C"} {
		if !strings.Contains(string(data), id+"\t0\t4\tIL-2\tprotein") {
			t.Errorf("document %s missing from the export:\n%s", id, data)
		}
	}
	if strings.Contains(string(data), "B|1") {
		t.Errorf("the id B|1 was written:\n%s", data)
	}
	if !strings.Contains(stderr.String(), `skipped 1 documents`) || !strings.Contains(stderr.String(), `"B|1"`) {
		t.Errorf("stderr does not name the skipped id:\n%s", stderr.String())
	}
	if l := leftovers(t, dir, "out.pubtator"); len(l) != 0 {
		t.Errorf("files left beside the output: %v", l)
	}
}

// TestFailedExportLeavesNoPartialFile: an export that fails (here on a
// corrupt chunk file) leaves neither a partial output nor a temporary file,
// and an older file at the output path is untouched.
func TestFailedExportLeavesNoPartialFile(t *testing.T) {
	url, s := exportBucket(t, "A", "B")
	bad := s.Key(exportModel, "t", 0, 2, 3)
	if err := s.Bucket().WriteAll(context.Background(), bad.String(), []byte("not parquet"), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.pubtator")
	for _, old := range []bool{false, true} {
		if old {
			if err := os.WriteFile(out, []byte("an earlier export\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := runExport(context.Background(), []string{"--in", url, "-o", out}, nil, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "00000000000000000002") {
			t.Fatalf("err = %v, want the corrupt file's error", err)
		}
		data, rerr := os.ReadFile(out)
		switch {
		case !old && !os.IsNotExist(rerr):
			t.Errorf("failed export left %s (%d bytes, %v)", out, len(data), rerr)
		case old && string(data) != "an earlier export\n":
			t.Errorf("failed export replaced the earlier file with %q", data)
		}
		if l := leftovers(t, dir, "out.pubtator"); len(l) != 0 {
			t.Errorf("files left beside the output: %v", l)
		}
	}
}
