package sink

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// nodeModules locates the node_modules folder that holds @duckdb/node-api:
// $NERSTREAM_NODE_MODULES, else the one `make setup` fills under .cache.
func nodeModules() string {
	if d := os.Getenv("NERSTREAM_NODE_MODULES"); d != "" {
		return d
	}
	abs, _ := filepath.Abs("../../.cache/node/node_modules")
	return abs
}

// duckDB returns node and the node_modules directory holding
// @duckdb/node-api, or skips t when either is missing.
func duckDB(t *testing.T) (node, mods string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH: skipping the DuckDB cross-check (run `make setup`)")
	}
	mods = nodeModules()
	if _, err := os.Stat(filepath.Join(mods, "@duckdb", "node-api", "package.json")); err != nil {
		t.Skipf("@duckdb/node-api not installed under %s: skipping the DuckDB cross-check (run `make setup`)", mods)
	}
	return node, mods
}

// duckdbResult is what testdata/duckdb_check.js prints.
type duckdbResult struct {
	Count struct {
		N              int64 `json:"n"`
		DistinctChunks int64 `json:"distinct_chunks"`
		Files          int64 `json:"files"`
		TextChars      int64 `json:"text_chars"`
	} `json:"count"`
	Schema []struct {
		Name string `json:"column_name"`
		Type string `json:"column_type"`
	} `json:"schema"`
	ParquetSchema []struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		LogicalType string `json:"logical_type"`
	} `json:"parquet_schema"`
	Codecs    []string `json:"codecs"`
	RowGroups int64    `json:"row_groups"`
	Query     []struct {
		Label     string `json:"label"`
		Entities  int64  `json:"entities"`
		Documents int64  `json:"documents"`
	} `json:"query"`
}

// TestDuckDBReadsOutput has DuckDB, an independent Parquet implementation,
// read what Store wrote to a directory: row and chunk counts, schema types,
// codec, and the documented "entities per label" query against a Go
// reference of the same rules.
func TestDuckDBReadsOutput(t *testing.T) {
	node, mods := duckDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, "file://"+filepath.ToSlash(dir)+"?prefix=lake", WithWriteOptions(WithRowGroupSize(2_000)))

	// Partition 0: plain documents over several files with several row groups.
	var written []Row
	upload := func(p int, first, last int64, rows []Row) {
		t.Helper()
		if err := s.Upload(ctx, s.Key(testModel, "docs", p, first, last), rows); err != nil {
			t.Fatal(err)
		}
		written = append(written, rows...)
	}
	upload(0, 0, 999, genRows(5_000, "docs", 0, 0))
	upload(0, 1000, 1999, genRows(2_500, "docs", 0, 1000))
	upload(0, 2000, 2000, nil)
	// Partition 1: versions and deletes of a few documents.
	mk := func(doc string, ver int32, off int64, op string, labels ...string) []Row {
		rows := []Row{{DocID: doc, DocVersion: ver, ChunkIndex: DocumentMarker, ModelName: "bilstm",
			ModelVersion: "0123456789abcdef", Topic: "docs", Partition: 1, Offset: off, Op: op}}
		if op == OpDelete {
			return rows
		}
		for i, l := range labels {
			rows = append(rows, Row{DocID: doc, DocVersion: ver, ChunkIndex: int32(i), Begin: int32(i), End: int32(i + 1),
				Text: "x", Label: l, Confidence: 0.9, ModelName: "bilstm", ModelVersion: "0123456789abcdef",
				Topic: "docs", Partition: 1, Offset: off, Op: op})
		}
		return rows
	}
	var p1 []Row
	p1 = append(p1, mk("v-a", 1, 0, OpUpsert, "protein", "DNA")...) // superseded by version 2
	p1 = append(p1, mk("v-b", 1, 1, OpUpsert, "RNA")...)            // deleted later
	p1 = append(p1, mk("v-c", 1, 2, OpUpsert, "cell_line")...)      // re-sent at offset 5
	p1 = append(p1, mk("v-a", 2, 3, OpUpsert, "protein")...)
	p1 = append(p1, mk("v-b", 1, 4, OpDelete)...)
	p1 = append(p1, mk("v-c", 1, 5, OpUpsert, "cell_line", "cell_type")...)
	p1 = append(p1, mk("v-d", 3, 6, OpUpsert)...) // a version with no entities supersedes version 2
	p1 = append(p1, mk("v-d", 2, 7, OpUpsert, "DNA")...)
	upload(1, 0, 3, p1[:9])
	upload(1, 4, 7, p1[9:])
	// Partition 2: a DeleteCitation (version 0) of v-c at a lower offset than
	// v-c's upserts in partition 1 — deletes win whatever the partitions'
	// offsets — and a re-sent copy of v-a version 2, counted once.
	var p2 []Row
	for _, r := range append(mk("v-c", 0, 0, OpDelete), mk("v-a", 2, 1, OpUpsert, "protein")...) {
		r.Partition = 2
		p2 = append(p2, r)
	}
	upload(2, 0, 1, p2)

	script, _ := filepath.Abs("testdata/duckdb_check.js")
	sql, _ := filepath.Abs("../../schemas/chunks_entities_by_label.sql")
	cmd := exec.CommandContext(ctx, node, script, filepath.Join(dir, "lake"), sql)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node %s: %v\n%s", script, err, stderr)
	}
	t.Logf("DuckDB check took %v", time.Since(start))
	var got duckdbResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode DuckDB output %q: %v", out, err)
	}

	// Counts (count(DISTINCT filename) only sees files with rows: 5 of 6).
	type pair struct {
		doc   string
		chunk int32
	}
	distinct := map[pair]bool{}
	var chars int64
	for _, r := range written {
		distinct[pair{r.DocID, r.ChunkIndex}] = true
		chars += int64(len([]rune(r.Text)))
	}
	if got.Count.N != int64(len(written)) || got.Count.DistinctChunks != int64(len(distinct)) ||
		got.Count.Files != 5 || got.Count.TextChars != chars {
		t.Errorf("DuckDB counts %+v; want n=%d distinct_chunks=%d files=5 text_chars=%d",
			got.Count, len(written), len(distinct), chars)
	}

	// Schema as DuckDB sees it: our columns with SQL types, then the Hive columns.
	wantSchema := map[string]string{"model": "VARCHAR", "topic": "VARCHAR", "partition": "BIGINT"}
	for _, c := range columns {
		wantSchema[c.name] = map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.INT32: "INTEGER",
			arrow.INT64: "BIGINT", arrow.FLOAT32: "FLOAT"}[c.typ.ID()]
	}
	gotSchema := map[string]string{}
	for _, c := range got.Schema {
		gotSchema[c.Name] = c.Type
	}
	if !reflect.DeepEqual(gotSchema, wantSchema) {
		t.Errorf("DuckDB schema %v\nwant %v", gotSchema, wantSchema)
	}
	for _, c := range got.ParquetSchema {
		if c.Type == "BYTE_ARRAY" && c.LogicalType == "" {
			t.Errorf("column %s is BYTE_ARRAY without a logical type (want STRING)", c.Name)
		}
	}
	if !reflect.DeepEqual(got.Codecs, []string{"ZSTD"}) {
		t.Errorf("codecs %v, want [ZSTD]", got.Codecs)
	}
	if got.RowGroups != 3+2+1+1+1 { // 5000 and 2500 rows in groups of 2000, three small files, none in the empty one
		t.Errorf("%d row groups, want 8", got.RowGroups)
	}

	// The documented query against the reference semantics.
	type labelCount struct {
		Label     string
		Entities  int64
		Documents int64
	}
	var want []labelCount
	for l, c := range referenceEntitiesByLabel(written) {
		want = append(want, labelCount{l, c[0], c[1]})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].Entities != want[j].Entities {
			return want[i].Entities > want[j].Entities
		}
		return want[i].Label < want[j].Label
	})
	var gotQ []labelCount
	for _, q := range got.Query {
		gotQ = append(gotQ, labelCount{q.Label, q.Entities, q.Documents})
	}
	if !reflect.DeepEqual(gotQ, want) {
		t.Errorf("entities by label from DuckDB %v\nreference %v", gotQ, want)
	}
}

// referenceEntitiesByLabel implements the "current state" rule of
// schemas/chunks.md in Go: a document with a tombstone is dropped; else the
// entities written from the upsert marker with the highest (doc_version,
// kafka_partition, kafka_offset) count.
// It returns label -> [entities, documents].
func referenceEntitiesByLabel(rows []Row) map[string][2]int64 {
	type win struct {
		ver  int32
		part int32
		off  int64
	}
	better := func(a, b win) bool { // a beats b
		if a.ver != b.ver {
			return a.ver > b.ver
		}
		if a.part != b.part {
			return a.part > b.part
		}
		return a.off > b.off
	}
	winners := map[string]win{}
	deleted := map[string]bool{}
	for _, r := range rows {
		if r.Op == OpDelete {
			deleted[r.DocID] = true
			continue
		}
		if r.ChunkIndex != DocumentMarker {
			continue
		}
		w := win{r.DocVersion, r.Partition, r.Offset}
		if old, ok := winners[r.DocID]; !ok || better(w, old) {
			winners[r.DocID] = w
		}
	}
	counts := map[string][2]int64{}
	docs := map[string]map[string]bool{}
	for _, r := range rows {
		w, ok := winners[r.DocID]
		if !ok || deleted[r.DocID] || r.Op != OpUpsert || r.ChunkIndex < 0 || r.DocVersion != w.ver || r.Partition != w.part || r.Offset != w.off {
			continue
		}
		c := counts[r.Label]
		c[0]++
		if docs[r.Label] == nil {
			docs[r.Label] = map[string]bool{}
		}
		if !docs[r.Label][r.DocID] {
			docs[r.Label][r.DocID] = true
			c[1]++
		}
		counts[r.Label] = c
	}
	return counts
}
