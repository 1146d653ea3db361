package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/sink"
)

func TestReportCountsAndScoresLatestVersions(t *testing.T) {
	gold := filepath.Join(t.TempDir(), "gold.jsonl")
	os.WriteFile(gold, []byte(
		`{"id":"1","text":"IL-2 gene","entities":[{"begin":0,"end":4,"label":"protein"}]}`+"\n"+
			`{"id":"2","text":"T cells","entities":[{"begin":0,"end":7,"label":"cell_type"}]}`+"\n"), 0o644)
	mk := func(doc string, ver int32, idx int32, b, e int32, label, op string) sink.Row {
		return sink.Row{DocID: doc, DocVersion: ver, ChunkIndex: idx, Begin: b, End: e, Label: label, Text: "x", Op: op}
	}
	rows := []sink.Row{
		mk("1", 1, -1, 0, 0, "", sink.OpUpsert),
		mk("1", 1, 0, 5, 9, "DNA", sink.OpUpsert), // superseded by version 2
		mk("1", 2, -1, 0, 0, "", sink.OpUpsert),
		mk("1", 2, 0, 0, 4, "protein", sink.OpUpsert), // correct
		mk("2", 1, -1, 0, 0, "", sink.OpUpsert),
		mk("2", 1, 0, 0, 1, "cell_type", sink.OpUpsert), // wrong span
		mk("3", 0, -1, 0, 0, "", sink.OpDelete),
	}
	var out bytes.Buffer
	err := report(&out, rows, reportInput{model: "m-0123", topic: "t", outDir: t.TempDir(), mdir: "m-0123", records: 4,
		elapsed: 2 * time.Second, stats: workerStats{docs: 4, windows: 3, batches: 1, slots: 100, used: 50}, gold: gold})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"3 annotated, 1 delete tombstones",
		"chunks                3  DNA=1  cell_type=1  protein=1",
		"slot utilization 50.0%",
		"micro F1 0.5000 (P 0.5000, R 0.5000) over 2 documents",
		"read_parquet(",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}
