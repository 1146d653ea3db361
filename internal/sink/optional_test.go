package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func optionalRows() []Row {
	rows := genRows(6, "docs", 1, 10)
	rows[1].AbbreviationOf, rows[1].AbbreviationBegin, rows[1].AbbreviationEnd = "interleukin 2", 3, 16
	rows[2].GeneID, rows[2].GeneSymbol, rows[2].GeneCandidates = "NCBIGene:3558", "IL2", 1
	rows[3].GeneCandidates = 4 // ambiguous: no id
	rows[4].Passage, rows[4].PassageOffset = "abstract", 42
	return rows
}

// TestOptionalColumnsRoundTrip: the nullable columns come back as written,
// and are null (not zero strings) where a row has no value.
func TestOptionalColumnsRoundTrip(t *testing.T) {
	rows := optionalRows()
	data := encode(t, rows)
	got, err := ReadParquet(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, rows)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	gene := tbl.Column(colGeneID).Data().Chunk(0)
	if gene.NullN() != len(rows)-1 || !gene.IsValid(2) {
		t.Fatalf("gene_id nulls = %d (valid at 2: %v), want %d", gene.NullN(), gene.IsValid(2), len(rows)-1)
	}
}

// TestOldReaderUnaffected reads a version-2 file the way a reader written
// for version 1 does — by the 15 original column names, required — and gets
// the same values as from a file without the new columns.
func TestOldReaderUnaffected(t *testing.T) {
	rows := optionalRows()
	pf, err := file.NewParquetReader(bytes.NewReader(encode(t, rows)))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := fr.Schema()
	var idx []int
	for i := 0; i < firstOptional; i++ {
		f := sc.Field(i)
		if f.Name != columns[i].name || f.Nullable || !arrow.TypeEqual(f.Type, columns[i].typ) {
			t.Fatalf("column %d = %s %s nullable %v, want required %s %s", i, f.Name, f.Type, f.Nullable, columns[i].name, columns[i].typ)
		}
		idx = append(idx, i)
	}
	rr, err := fr.GetRecordReader(context.Background(), idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var got []Row
	for rr.Next() {
		got = appendRecord(got, rr.RecordBatch(), idx)
	}
	want := genRows(6, "docs", 1, 10)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("old-column read differs:\n got %+v\nwant %+v", got, want)
	}
}

// TestReadVersion1File: a file with only the original columns (what the
// worker wrote before schema version 2) reads with null optional fields.
func TestReadVersion1File(t *testing.T) {
	want := genRows(5, "docs", 0, 0)
	got, err := ReadParquet(context.Background(), bytes.NewReader(writeVersion1(t, want)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1 read differs:\n got %+v\nwant %+v", got, want)
	}
}

// writeVersion1 encodes rows with only the 15 columns of schema version 1.
func writeVersion1(t *testing.T, want []Row) []byte {
	t.Helper()
	fields := make([]arrow.Field, firstOptional)
	for i := range fields {
		fields[i] = arrow.Field{Name: columns[i].name, Type: columns[i].typ}
	}
	v1 := arrow.NewSchema(fields, nil)
	full := array.NewRecordBuilder(memory.DefaultAllocator, arrowSchema)
	defer full.Release()
	rec := buildRecord(full, want)
	defer rec.Release()
	cols := make([]arrow.Array, firstOptional)
	for i := range cols {
		cols[i] = rec.Column(i)
	}
	old := array.NewRecordBatch(v1, cols, rec.NumRows())
	defer old.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(v1, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(old); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDuckDBMixedVersions: a bucket with files written before and after the
// optional columns existed. A query written for version 1 reads both
// unchanged; the new columns need union_by_name (schemas/chunks.md).
func TestDuckDBMixedVersions(t *testing.T) {
	node, mods := duckDB(t)
	dir := t.TempDir()
	old := genRows(5, "docs", 0, 0)
	if err := os.WriteFile(filepath.Join(dir, "a.parquet"), writeVersion1(t, old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.parquet"), encode(t, optionalRows()), 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/duckdb_mixed.js")
	cmd := exec.Command(node, script, dir)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var got struct {
		Old   struct{ N, Labels int }
		Union struct{ N, Genes, Abbrevs, Passages int }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	n := len(old) + len(optionalRows())
	if got.Old.N != n || got.Old.Labels != n || got.Union.N != n || got.Union.Genes != 1 || got.Union.Abbrevs != 1 || got.Union.Passages != 1 {
		t.Fatalf("DuckDB over mixed versions: %+v, want %d rows, 1 gene, 1 abbreviation, 1 passage", got, n)
	}
}
