package sink

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

const testModel = "bilstm-0123456789ab"

var labels = []string{"protein", "DNA", "RNA", "cell_type", "cell_line"}

// genRows returns n rows of docs with up to 7 chunks each, for Kafka offsets
// starting at first (one document per offset), with some unicode text.
func genRows(n int, topic string, partition int32, first int64) []Row {
	rows := make([]Row, 0, n)
	off := first
	for len(rows) < n {
		doc := fmt.Sprintf("pmid%08d", off)
		chunks := int(off%7) + 1
		for c := 0; c < chunks && len(rows) < n; c++ {
			text := fmt.Sprintf("IL-%d α-β 受容体 🧬 %d", c, off)
			rows = append(rows, Row{
				DocID: doc, DocVersion: int32(off % 3), ChunkIndex: int32(c),
				Begin: int32(c * 40), End: int32(c*40 + len([]rune(text))), Text: text,
				Label: labels[(int(off)+c)%len(labels)], Confidence: float32(c+1) / 8,
				SentenceIndex: int32(c / 2), ModelName: "bilstm", ModelVersion: "0123456789abcdef",
				Topic: topic, Partition: partition, Offset: off, Op: OpUpsert,
			})
		}
		off++
	}
	return rows
}

func encode(t testing.TB, rows []Row, opts ...WriteOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteParquet(&buf, rows, opts...); err != nil {
		t.Fatalf("WriteParquet: %v", err)
	}
	return buf.Bytes()
}

func TestParquetRoundTrip(t *testing.T) {
	marker := Row{DocID: "9", DocVersion: 2, ChunkIndex: DocumentMarker, ModelName: "m", ModelVersion: "v",
		Topic: "t", Partition: 1, Offset: 8, Op: OpUpsert}
	tomb := marker
	tomb.Op, tomb.Offset = OpDelete, 9
	tests := []struct {
		name         string
		rows         []Row
		rowGroupSize int
		wantGroups   int
	}{
		{"empty", nil, 0, 0},
		{"one", genRows(1, "docs", 0, 0), 0, 1},
		{"unicode and markers", append(genRows(30, "docs", 2, 5), marker, tomb,
			Row{DocID: "ünï", ChunkIndex: 0, Begin: 0, End: 3, Text: "\u0000\t\n\u2028 end", Label: "DNA",
				Confidence: 1, ModelName: "ß", ModelVersion: "", Topic: "t", Op: OpUpsert}), 0, 1},
		{"several row groups", genRows(100_000, "docs", 7, 1000), 16_384, 7},
		{"row group of one", genRows(5, "docs", 0, 0), 1, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []WriteOption
			if tc.rowGroupSize > 0 {
				opts = append(opts, WithRowGroupSize(tc.rowGroupSize))
			}
			data := encode(t, tc.rows, opts...)
			got, err := ReadParquet(context.Background(), bytes.NewReader(data))
			if err != nil {
				t.Fatalf("ReadParquet: %v", err)
			}
			if len(got) != len(tc.rows) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(tc.rows))
			}
			for i := range got {
				if got[i] != tc.rows[i] {
					t.Fatalf("row %d: read %+v, wrote %+v", i, got[i], tc.rows[i])
				}
			}
			pf, err := file.NewParquetReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			if n := pf.NumRowGroups(); n != tc.wantGroups {
				t.Fatalf("%d row groups, want %d", n, tc.wantGroups)
			}
			if pf.NumRows() != int64(len(tc.rows)) {
				t.Fatalf("footer says %d rows, want %d", pf.NumRows(), len(tc.rows))
			}
			if v := pf.MetaData().KeyValueMetadata().FindValue(MetaRows); v == nil || *v != fmt.Sprint(len(tc.rows)) {
				t.Fatalf("metadata %s = %v, want %d", MetaRows, v, len(tc.rows))
			}
			for g := 0; g < pf.NumRowGroups(); g++ {
				rg := pf.MetaData().RowGroup(g)
				for c := 0; c < rg.NumColumns(); c++ {
					cc, err := rg.ColumnChunk(c)
					if err != nil {
						t.Fatal(err)
					}
					if cc.Compression() != compress.Codecs.Zstd {
						t.Fatalf("row group %d column %d compressed with %v, want zstd", g, c, cc.Compression())
					}
				}
			}
		})
	}
}

// TestParquetSchemaForConsumers checks what Spark, DuckDB and pandas see:
// signed physical types, UTF-8 string annotations, required columns, and the
// column descriptions in the stored Arrow schema.
func TestParquetSchemaForConsumers(t *testing.T) {
	data := encode(t, genRows(3, "docs", 0, 0))
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	if sc.NumColumns() != len(columns) {
		t.Fatalf("%d columns, want %d", sc.NumColumns(), len(columns))
	}
	for i, c := range columns {
		col := sc.Column(i)
		if col.Name() != c.name {
			t.Fatalf("column %d is %q, want %q", i, col.Name(), c.name)
		}
		if wantOpt := i >= firstOptional; (col.MaxDefinitionLevel() != 0) != wantOpt {
			t.Errorf("column %q: optional %v, want %v", c.name, col.MaxDefinitionLevel() != 0, wantOpt)
		}
		switch c.typ.ID() {
		case arrow.STRING:
			if col.PhysicalType() != parquet.Types.ByteArray || col.LogicalType().String() != "String" {
				t.Errorf("column %q: physical %v logical %v, want BYTE_ARRAY String", c.name, col.PhysicalType(), col.LogicalType())
			}
		case arrow.INT32, arrow.INT64:
			want := parquet.Types.Int32
			if c.typ.ID() == arrow.INT64 {
				want = parquet.Types.Int64
			}
			if col.PhysicalType() != want {
				t.Errorf("column %q physical %v, want %v", c.name, col.PhysicalType(), want)
			}
			if s := col.LogicalType().String(); strings.Contains(strings.ToLower(s), "unsigned") || strings.Contains(s, "false") {
				t.Errorf("column %q has unsigned logical type %s", c.name, s)
			}
		case arrow.FLOAT32:
			if col.PhysicalType() != parquet.Types.Float {
				t.Errorf("column %q physical %v, want FLOAT", c.name, col.PhysicalType())
			}
		default:
			t.Errorf("column %q has unexpected type %s", c.name, c.typ)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	as, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range as.Fields() {
		d, ok := f.Metadata.GetValue("description")
		if !ok || d != columns[i].doc {
			t.Errorf("field %q description %q, want %q", f.Name, d, columns[i].doc)
		}
	}
	if v := pf.MetaData().KeyValueMetadata().FindValue(MetaSchemaVersion); v == nil || *v != SchemaVersion {
		t.Errorf("schema version metadata %v, want %q", v, SchemaVersion)
	}
}

func TestWriteParquetRejects(t *testing.T) {
	good := genRows(1, "docs", 0, 0)[0]
	tests := []struct {
		name string
		edit func(*Row)
		want string
	}{
		{"invalid utf8 text", func(r *Row) { r.Text = "a\xffb" }, "text is not valid UTF-8"},
		{"invalid utf8 doc", func(r *Row) { r.DocID = "\xc3" }, "doc_id is not valid UTF-8"},
		{"empty doc id", func(r *Row) { r.DocID = "" }, "doc_id is empty"},
		{"bad op", func(r *Row) { r.Op = "insert" }, `op "insert"`},
		{"negative chunk", func(r *Row) { r.ChunkIndex = -2 }, "chunk_index -2"},
		{"delete with chunk", func(r *Row) { r.Op = OpDelete }, "delete row has chunk_index"},
		{"reversed span", func(r *Row) { r.Begin, r.End = 5, 4 }, "bad chunk span [5,4)"},
		{"negative begin", func(r *Row) { r.Begin = -1 }, "bad chunk span"},
		{"negative offset", func(r *Row) { r.Offset = -1 }, "kafka_offset -1"},
		{"negative partition", func(r *Row) { r.Partition = -1 }, "kafka_partition -1"},
		{"negative sentence", func(r *Row) { r.SentenceIndex = -1 }, "sentence_index -1"},
		{"NaN confidence", func(r *Row) { r.Confidence = float32(math.NaN()) }, "confidence NaN"},
		{"confidence above 1", func(r *Row) { r.Confidence = 1.5 }, "confidence 1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := genRows(3, "docs", 0, 0)
			bad := good
			tc.edit(&bad)
			rows = append(rows, bad)
			var buf bytes.Buffer
			err := WriteParquet(&buf, rows)
			if err == nil {
				t.Fatal("WriteParquet accepted a bad row")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "row 3") {
				t.Fatalf("error %q should contain %q and name row 3", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("%d bytes written before validation failed", buf.Len())
			}
		})
	}
	if err := WriteParquet(&bytes.Buffer{}, nil, WithRowGroupSize(0)); err == nil {
		t.Fatal("row group size 0 accepted")
	}
}

func TestReadParquetRejects(t *testing.T) {
	// A Parquet file whose "label" column is an int32 and "op" is missing.
	other := arrow.NewSchema([]arrow.Field{{Name: "label", Type: arrow.PrimitiveTypes.Int32}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, other)
	b.Field(0).(*array.Int32Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var wrongType bytes.Buffer
	fw, err := pqarrow.NewFileWriter(other, &wrongType, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	good := encode(t, genRows(10, "docs", 0, 0))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not parquet", []byte("hello, this is not a parquet file at all"), "read parquet"},
		{"empty", nil, "read parquet"},
		{"truncated", good[:len(good)/2], "read parquet"},
		{"foreign schema", wrongType.Bytes(), `column "doc_id"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadParquet(context.Background(), bytes.NewReader(tc.data))
			if err == nil {
				t.Fatalf("ReadParquet accepted bad input, %d rows", len(rows))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestSchemaDocumented keeps schemas/chunks.md in step with the code: every
// column appears in its table with its type, and the table has no others.
func TestSchemaDocumented(t *testing.T) {
	md, err := os.ReadFile("../../schemas/chunks.md")
	if err != nil {
		t.Fatalf("read schema doc: %v", err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `([A-Z0-9]+)` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		documented[m[1]] = m[2]
	}
	want := map[string]string{}
	for _, c := range columns {
		want[c.name] = map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.INT32: "INTEGER",
			arrow.INT64: "BIGINT", arrow.FLOAT32: "FLOAT"}[c.typ.ID()]
	}
	if !reflect.DeepEqual(documented, want) {
		t.Fatalf("schemas/chunks.md columns = %v\nwant %v", documented, want)
	}
}

// benchRows returns n realistic rows: PMIDs, 1-4 word entity texts drawn
// from a biomedical vocabulary, varied spans and confidences.
func benchRows(n int) []Row {
	words := strings.Fields(`IL-2 receptor alpha chain NF-kappa B p50 p65 T cells human monocytes
		GATA-1 erythroid promoter c-fos mRNA glucocorticoid CD4+ lymphocytes Jurkat cell line STAT3
		cytokine TNF-alpha HIV-1 long terminal repeat enhancer octamer binding protein I kappa B alpha
		interferon-gamma B-cell leukemia primary macrophages transcription factor AP-1 c-Jun estrogen`)
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]Row, n)
	off, chunk := int64(0), int32(0)
	for i := range rows {
		if rng.IntN(8) == 0 {
			off++
			chunk = 0
		}
		k := 1 + rng.IntN(4)
		parts := make([]string, k)
		for j := range parts {
			parts[j] = words[rng.IntN(len(words))]
		}
		text := strings.Join(parts, " ")
		begin := int32(rng.IntN(1500))
		rows[i] = Row{DocID: fmt.Sprint(9_000_000 + off*37), DocVersion: 1, ChunkIndex: chunk,
			Begin: begin, End: begin + int32(len([]rune(text))), Text: text, Label: labels[rng.IntN(len(labels))],
			Confidence: rng.Float32(), SentenceIndex: int32(rng.IntN(12)), ModelName: "bilstm",
			ModelVersion: "0123456789abcdef0123456789abcdef", Topic: "pubmed-docs", Partition: 3,
			Offset: 120_000 + off, Op: OpUpsert}
		chunk++
	}
	return rows
}

// rawSize is the in-memory payload of rows: string bytes plus 36 bytes of
// fixed-width fields per row. Benchmarks report MB/s of this input.
func rawSize(rows []Row) int64 {
	var n int64
	for i := range rows {
		r := &rows[i]
		n += int64(len(r.DocID)+len(r.Text)+len(r.Label)+len(r.ModelName)+len(r.ModelVersion)+len(r.Topic)+len(r.Op)) + 36
	}
	return n
}

// BenchmarkWriteParquet measures the encoder: rows/s, MB/s of row payload
// (see rawSize) and the compressed size per row.
func BenchmarkWriteParquet(b *testing.B) {
	rows := benchRows(50_000)
	size := len(encode(b, rows))
	b.SetBytes(rawSize(rows))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		buf.Grow(size)
		if err := WriteParquet(&buf, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/float64(len(rows)), "file-B/row")
	b.ReportMetric(float64(rawSize(rows))/float64(size), "ratio")
}

// BenchmarkReadParquet measures the decoder on the same rows.
func BenchmarkReadParquet(b *testing.B) {
	rows := benchRows(50_000)
	data := encode(b, rows)
	b.SetBytes(rawSize(rows))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ReadParquet(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// FuzzReadParquet feeds mutated chunk files to the decoder: it must return
// rows or an error, never panic, and whatever it accepts must re-encode.
func FuzzReadParquet(f *testing.F) {
	f.Add(encode(f, genRows(20, "docs", 0, 0)))
	f.Add(encode(f, nil))
	f.Add(encode(f, genRows(10, "docs", 1, 5), WithRowGroupSize(3)))
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadParquet(context.Background(), bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		// Decoded rows may violate ValidateRow (fuzzed values); only a
		// validation error is acceptable from the encoder.
		if err := WriteParquet(&buf, rows); err != nil && !strings.Contains(err.Error(), "write parquet: row ") {
			t.Fatalf("re-encoding %d decoded rows: %v", len(rows), err)
		}
	})
}
