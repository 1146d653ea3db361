package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Op values of [Row.Op].
const (
	// OpUpsert marks a row that belongs to the current content of a document
	// version: an entity chunk, or the document marker of a processed document.
	OpUpsert = "upsert"
	// OpDelete marks a tombstone: the document (all versions up to and
	// including DocVersion) is withdrawn. Tombstones are document markers.
	OpDelete = "delete"
)

// DocumentMarker is the [Row.ChunkIndex] of a row that stands for a whole
// document rather than one entity. The worker writes one marker per processed
// document (Op "upsert", empty Text and Label) so that a new version without
// any entity still supersedes the chunks of older versions, and a tombstone
// (Op "delete") is always a marker. Entity queries filter chunk_index >= 0.
const DocumentMarker int32 = -1

// SchemaVersion is stored in every file's key-value metadata under
// [MetaSchemaVersion] and bumped on any column change. Version 2 added the
// nullable columns abbreviation_of … passage_offset at the end; readers of
// version 1 files see them as null.
const SchemaVersion = "2"

// Key-value metadata keys written into every Parquet file footer.
const (
	MetaSchemaVersion = "nerstream.chunks.schema_version"
	MetaRows          = "nerstream.chunks.rows"
)

// DefaultRowGroupSize is the number of rows per Parquet row group unless
// [WithRowGroupSize] says otherwise. 64k rows of chunks are a few MB
// uncompressed: large enough for good compression, small enough to keep the
// writer's memory bounded.
const DefaultRowGroupSize = 64 * 1024

// MaxRowsPerFile bounds the rows [WriteParquet] writes and [ReadParquet]
// reads in one file (16M rows, a few GB decoded): a larger batch is a bug
// upstream, and a footer claiming more is corrupt.
const MaxRowsPerFile = 1 << 24

// Row is one output row: an entity chunk found in a document (ChunkIndex >= 0)
// or a document marker / tombstone (ChunkIndex == [DocumentMarker]).
// Offsets are Unicode code points into the document text, End exclusive.
type Row struct {
	DocID         string  // document identifier, e.g. the PMID
	DocVersion    int32   // document version; higher supersedes lower
	ChunkIndex    int32   // 0-based entity index in the document, or DocumentMarker
	Begin, End    int32   // code-point offsets of the chunk in the document text, [Begin, End)
	Text          string  // chunk surface text (text[Begin:End] in code points)
	Label         string  // entity type without BIO prefix, e.g. "protein"
	Confidence    float32 // mean probability of the chunk's predicted labels, in [0, 1]
	SentenceIndex int32   // 0-based sentence of the chunk within the document
	ModelName     string  // model bundle name
	ModelVersion  string  // model bundle version (model.Bundle.Version)
	Topic         string  // Kafka topic the document came from
	Partition     int32   // Kafka partition of the message
	Offset        int64   // Kafka offset of the message that carried the document
	Op            string  // OpUpsert or OpDelete

	// Optional columns (schema version 2; null in files of version 1 and
	// for rows without the information).

	// AbbreviationOf is the long form when the chunk is a short form
	// ("IL-2" → "interleukin 2"), with its code-point span in the document;
	// empty (null) otherwise.
	AbbreviationOf                     string
	AbbreviationBegin, AbbreviationEnd int32
	// GeneID is the NCBI Gene identifier ("NCBIGene:3558") and GeneSymbol
	// the official symbol of the human gene the mention was linked to;
	// empty (null) when not linked.
	GeneID, GeneSymbol string
	// GeneCandidates is the number of human genes the mention's normalised
	// text matched: 1 when linked, more when ambiguous (left unlinked), 0
	// (null) when none or not looked up.
	GeneCandidates int32
	// Passage is the type of the passage holding the chunk ("title",
	// "abstract", or a full-text section title) and PassageOffset its start
	// in the document; empty (null) when the source had no passages.
	Passage       string
	PassageOffset int32
}

// column describes one Parquet column: its name, Arrow type and meaning.
type column struct {
	name string
	typ  arrow.DataType
	doc  string
}

// columns is the file schema, in file order. schemas/chunks.md documents
// the same table; TestSchemaDocumented keeps them in step.
var columns = []column{
	{"doc_id", arrow.BinaryTypes.String, "Document identifier (PubMed PMID for MEDLINE input)."},
	{"doc_version", arrow.PrimitiveTypes.Int32, "Document version; a higher version supersedes every row of lower versions of the same doc_id."},
	{"chunk_index", arrow.PrimitiveTypes.Int32, "0-based index of the entity chunk within the document version, in text order; -1 for a document marker or tombstone."},
	{"char_begin", arrow.PrimitiveTypes.Int32, "Start of the chunk in the document text, in Unicode code points (inclusive); 0 for markers."},
	{"char_end", arrow.PrimitiveTypes.Int32, "End of the chunk in the document text, in Unicode code points (exclusive); 0 for markers."},
	{"text", arrow.BinaryTypes.String, "Surface text of the chunk (the code points char_begin..char_end of the document text); empty for markers."},
	{"label", arrow.BinaryTypes.String, "Entity type without BIO prefix (e.g. protein, DNA, RNA, cell_type, cell_line); empty for markers."},
	{"confidence", arrow.PrimitiveTypes.Float32, "Model confidence of the chunk in [0,1] (mean probability of its predicted labels); 0 for markers."},
	{"sentence_index", arrow.PrimitiveTypes.Int32, "0-based index of the sentence containing the chunk; 0 for markers."},
	{"model_name", arrow.BinaryTypes.String, "Name of the model bundle that produced the row."},
	{"model_version", arrow.BinaryTypes.String, "Version of the model bundle that produced the row: the hex SHA-256 of a manifest of everything that changes the output (graph, labels and decoding config, crf.json, tokenizer files)."},
	{"kafka_topic", arrow.BinaryTypes.String, "Kafka topic of the input message."},
	{"kafka_partition", arrow.PrimitiveTypes.Int32, "Kafka partition of the input message."},
	{"kafka_offset", arrow.PrimitiveTypes.Int64, "Kafka offset of the input message; orders versions of equal doc_version."},
	{"op", arrow.BinaryTypes.String, "upsert (chunk or document marker of a document version) or delete (tombstone for the document)."},
	{"abbreviation_of", arrow.BinaryTypes.String, "Nullable. When the chunk is an abbreviation's short form: the long form's text as defined in the document."},
	{"abbreviation_of_begin", arrow.PrimitiveTypes.Int32, "Nullable. Start of that long form in the document text, in code points (inclusive)."},
	{"abbreviation_of_end", arrow.PrimitiveTypes.Int32, "Nullable. End of that long form in the document text, in code points (exclusive)."},
	{"gene_id", arrow.BinaryTypes.String, "Nullable. NCBI Gene identifier of the human gene the protein/DNA/RNA chunk was linked to, e.g. NCBIGene:3558."},
	{"gene_symbol", arrow.BinaryTypes.String, "Nullable. Official symbol of that gene, e.g. IL2."},
	{"gene_candidates", arrow.PrimitiveTypes.Int32, "Nullable. Number of human genes the normalised mention matched: 1 when linked, >1 when ambiguous and left unlinked."},
	{"passage", arrow.BinaryTypes.String, "Nullable. Passage of the chunk: title, abstract, or a full-text section title (PMC input)."},
	{"passage_offset", arrow.PrimitiveTypes.Int32, "Nullable. Start of that passage in the document text, in code points."},
}

// firstOptional is the index of the first column that may be null and may
// be missing from a file (files of schema version 1 end before it).
const firstOptional = colAbbrevOf

// Column indices in [columns].
const (
	colDocID = iota
	colDocVersion
	colChunkIndex
	colBegin
	colEnd
	colText
	colLabel
	colConfidence
	colSentenceIndex
	colModelName
	colModelVersion
	colTopic
	colPartition
	colOffset
	colOp
	colAbbrevOf
	colAbbrevBegin
	colAbbrevEnd
	colGeneID
	colGeneSymbol
	colGeneCandidates
	colPassage
	colPassageOffset
	numColumns
)

// arrowSchema is the Arrow schema of a chunks file, with each column's
// description in its field metadata.
var arrowSchema = func() *arrow.Schema {
	if len(columns) != numColumns {
		panic("sink: column table and column indices disagree")
	}
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = arrow.Field{
			Name:     c.name,
			Type:     c.typ,
			Nullable: i >= firstOptional,
			Metadata: arrow.NewMetadata([]string{"description"}, []string{c.doc}),
		}
	}
	md := arrow.NewMetadata([]string{MetaSchemaVersion}, []string{SchemaVersion})
	return arrow.NewSchema(fields, &md)
}()

// writeConfig holds the settings of [WriteParquet].
type writeConfig struct {
	rowGroupSize int
}

// zstdLevel is the compression level of every file: 3, zstd's default
// balance of speed and size.
const zstdLevel = 3

// WriteOption changes how [WriteParquet] encodes a file.
type WriteOption func(*writeConfig)

// WithRowGroupSize sets the maximum number of rows per row group
// (default [DefaultRowGroupSize]). Values below 1 are rejected by WriteParquet.
func WithRowGroupSize(n int) WriteOption {
	return func(c *writeConfig) { c.rowGroupSize = n }
}

// ValidateRow reports why r cannot be written, or nil. Strings must be valid
// UTF-8, Op must be OpUpsert or OpDelete, offsets and indices must not be
// negative (except ChunkIndex == DocumentMarker) and Begin <= End.
func ValidateRow(r *Row) error {
	for _, s := range []struct{ name, v string }{
		{"doc_id", r.DocID}, {"text", r.Text}, {"label", r.Label}, {"model_name", r.ModelName},
		{"model_version", r.ModelVersion}, {"kafka_topic", r.Topic}, {"op", r.Op},
		{"abbreviation_of", r.AbbreviationOf}, {"gene_id", r.GeneID}, {"gene_symbol", r.GeneSymbol}, {"passage", r.Passage},
	} {
		if !utf8.ValidString(s.v) {
			return fmt.Errorf("%s is not valid UTF-8: %q", s.name, s.v)
		}
	}
	switch {
	case r.DocID == "":
		return errors.New("doc_id is empty")
	case r.Op != OpUpsert && r.Op != OpDelete:
		return fmt.Errorf("op %q is neither %q nor %q", r.Op, OpUpsert, OpDelete)
	case r.ChunkIndex < DocumentMarker:
		return fmt.Errorf("chunk_index %d is negative (only %d, the document marker, is allowed)", r.ChunkIndex, DocumentMarker)
	case r.Op == OpDelete && r.ChunkIndex != DocumentMarker:
		return fmt.Errorf("delete row has chunk_index %d, want the document marker %d", r.ChunkIndex, DocumentMarker)
	case r.Begin < 0 || r.End < r.Begin:
		return fmt.Errorf("bad chunk span [%d,%d)", r.Begin, r.End)
	case r.SentenceIndex < 0:
		return fmt.Errorf("sentence_index %d is negative", r.SentenceIndex)
	case r.Partition < 0:
		return fmt.Errorf("kafka_partition %d is negative", r.Partition)
	case r.Offset < 0:
		return fmt.Errorf("kafka_offset %d is negative", r.Offset)
	case !(r.Confidence >= 0 && r.Confidence <= 1): // also rejects NaN
		return fmt.Errorf("confidence %v is outside [0,1]", r.Confidence)
	}
	return nil
}

// WriteParquet encodes rows as one Parquet file on w: the chunks schema
// (see schemas/chunks.md) with column descriptions in the stored Arrow
// schema, zstd compression of plain-encoded pages, and at most the configured
// number of rows per row group. Zero rows give a valid file with no row
// groups. Every row is checked with [ValidateRow] before anything is written.
func WriteParquet(w io.Writer, rows []Row, opts ...WriteOption) error {
	cfg := writeConfig{rowGroupSize: DefaultRowGroupSize}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.rowGroupSize < 1 {
		return fmt.Errorf("write parquet: row group size %d is not positive", cfg.rowGroupSize)
	}
	if len(rows) > MaxRowsPerFile {
		return fmt.Errorf("write parquet: %d rows exceed the limit of %d per file", len(rows), MaxRowsPerFile)
	}
	for i := range rows {
		if err := ValidateRow(&rows[i]); err != nil {
			return fmt.Errorf("write parquet: row %d (doc %q, chunk %d): %w", i, rows[i].DocID, rows[i].ChunkIndex, err)
		}
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(zstdLevel),
		// Plain pages + zstd: on realistic rows the file is 3% smaller than
		// with dictionaries and writing is ~1.7x faster with ~100x fewer
		// allocations (arrow-go's dictionary memo allocates per value).
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(int64(cfg.rowGroupSize)),
		parquet.WithVersion(parquet.V2_LATEST),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithCreatedBy("nerstream sink"),
		parquet.WithStats(true),
	)
	fw, err := pqarrow.NewFileWriter(arrowSchema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("write parquet: open writer: %w", err)
	}
	if err := fw.AppendKeyValueMetadata(MetaRows, fmt.Sprint(len(rows))); err != nil {
		fw.Close()
		return fmt.Errorf("write parquet: metadata: %w", err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrowSchema)
	defer b.Release()
	for start := 0; start < len(rows); start += cfg.rowGroupSize {
		end := min(start+cfg.rowGroupSize, len(rows))
		rec := buildRecord(b, rows[start:end])
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("write parquet: row group at row %d: %w", start, err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("write parquet: close: %w", err)
	}
	return nil
}

// buildRecord appends rows to b and returns the finished record batch.
func buildRecord(b *array.RecordBuilder, rows []Row) arrow.RecordBatch {
	n := len(rows)
	f := func(i int) array.Builder { b.Field(i).Reserve(n); return b.Field(i) }
	docID := f(colDocID).(*array.StringBuilder)
	docVersion := f(colDocVersion).(*array.Int32Builder)
	chunkIndex := f(colChunkIndex).(*array.Int32Builder)
	begin := f(colBegin).(*array.Int32Builder)
	end := f(colEnd).(*array.Int32Builder)
	text := f(colText).(*array.StringBuilder)
	label := f(colLabel).(*array.StringBuilder)
	conf := f(colConfidence).(*array.Float32Builder)
	sent := f(colSentenceIndex).(*array.Int32Builder)
	modelName := f(colModelName).(*array.StringBuilder)
	modelVersion := f(colModelVersion).(*array.StringBuilder)
	topic := f(colTopic).(*array.StringBuilder)
	part := f(colPartition).(*array.Int32Builder)
	off := f(colOffset).(*array.Int64Builder)
	op := f(colOp).(*array.StringBuilder)
	abbrevOf := f(colAbbrevOf).(*array.StringBuilder)
	abbrevBegin := f(colAbbrevBegin).(*array.Int32Builder)
	abbrevEnd := f(colAbbrevEnd).(*array.Int32Builder)
	geneID := f(colGeneID).(*array.StringBuilder)
	geneSymbol := f(colGeneSymbol).(*array.StringBuilder)
	geneCand := f(colGeneCandidates).(*array.Int32Builder)
	passage := f(colPassage).(*array.StringBuilder)
	passageOff := f(colPassageOffset).(*array.Int32Builder)
	str := func(b *array.StringBuilder, v string, valid bool) {
		if valid {
			b.Append(v)
		} else {
			b.AppendNull()
		}
	}
	i32 := func(b *array.Int32Builder, v int32, valid bool) {
		if valid {
			b.Append(v)
		} else {
			b.AppendNull()
		}
	}
	for i := range rows {
		r := &rows[i]
		docID.Append(r.DocID)
		docVersion.Append(r.DocVersion)
		chunkIndex.Append(r.ChunkIndex)
		begin.Append(r.Begin)
		end.Append(r.End)
		text.Append(r.Text)
		label.Append(r.Label)
		conf.Append(r.Confidence)
		sent.Append(r.SentenceIndex)
		modelName.Append(r.ModelName)
		modelVersion.Append(r.ModelVersion)
		topic.Append(r.Topic)
		part.Append(r.Partition)
		off.Append(r.Offset)
		op.Append(r.Op)
		str(abbrevOf, r.AbbreviationOf, r.AbbreviationOf != "")
		i32(abbrevBegin, r.AbbreviationBegin, r.AbbreviationOf != "")
		i32(abbrevEnd, r.AbbreviationEnd, r.AbbreviationOf != "")
		str(geneID, r.GeneID, r.GeneID != "")
		str(geneSymbol, r.GeneSymbol, r.GeneID != "")
		i32(geneCand, r.GeneCandidates, r.GeneCandidates != 0)
		str(passage, r.Passage, r.Passage != "")
		i32(passageOff, r.PassageOffset, r.Passage != "")
	}
	return b.NewRecordBatch()
}

// ReadParquet decodes a chunks file written by [WriteParquet] (or any Parquet
// file with the same column names and types, in any order; extra columns are
// ignored). A missing column or one of another type is an error naming it.
func ReadParquet(ctx context.Context, r parquet.ReaderAtSeeker) (rows []Row, err error) {
	if ctx == nil {
		ctx = context.Background() // arrow-go panics on a nil context
	}
	// arrow-go can panic on corrupt footers and pages; a bad file must be
	// an error, not a crashed worker.
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("read parquet: corrupt file: %v", p)
		}
	}()
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("read parquet: %w", err)
	}
	defer pf.Close()
	if n := pf.NumRows(); n < 0 || n > MaxRowsPerFile {
		return nil, fmt.Errorf("read parquet: footer claims %d rows, limit is %d", n, MaxRowsPerFile)
	}
	// Ignore the stored Arrow schema: it is a flatbuffer that arrow-go
	// decodes without bounds (a corrupt one allocated 140 GB in fuzzing),
	// and the Parquet schema alone gives the same types for our columns.
	for _, kv := range pf.MetaData().KeyValueMetadata() {
		if kv != nil && kv.Key == "ARROW:schema" {
			kv.Key = "ARROW:schema (ignored)"
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 16 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("read parquet: %w", err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("read parquet: schema: %w", err)
	}
	idx := make([]int, 0, numColumns)
	var present []int // indices into columns, in idx order
	for i, c := range columns {
		found := sc.FieldIndices(c.name)
		if len(found) == 0 && i >= firstOptional {
			continue // a file of an older schema version: the column is null
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("read parquet: column %q: found %d columns with that name, want 1", c.name, len(found))
		}
		if got := sc.Field(found[0]).Type; !arrow.TypeEqual(got, c.typ) {
			return nil, fmt.Errorf("read parquet: column %q has type %s, want %s", c.name, got, c.typ)
		}
		idx = append(idx, found[0])
		present = append(present, i)
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return nil, fmt.Errorf("read parquet: %w", err)
	}
	defer rr.Release()
	// The footer's row count is untrusted: bound the preallocation.
	rows = make([]Row, 0, min(pf.NumRows(), 1<<16))
	for rr.Next() {
		rows = appendRecord(rows, rr.RecordBatch(), present)
		if len(rows) > MaxRowsPerFile {
			return nil, fmt.Errorf("read parquet: more than %d rows", MaxRowsPerFile)
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read parquet: after %d rows: %w", len(rows), err)
	}
	return rows, nil
}

// appendRecord converts one record batch to rows. present[j] is the [columns]
// index of the batch's column j (types already checked); the required
// columns come first, in order.
func appendRecord(rows []Row, rec arrow.RecordBatch, present []int) []Row {
	str := func(i int) *array.String { return rec.Column(i).(*array.String) }
	i32 := func(i int) *array.Int32 { return rec.Column(i).(*array.Int32) }
	opt := make([]arrow.Array, numColumns)
	for j, ci := range present {
		if ci >= firstOptional {
			opt[ci] = rec.Column(j)
		}
	}
	optStr := func(ci, i int) string {
		if a, ok := opt[ci].(*array.String); ok && a.IsValid(i) {
			return strings.Clone(a.Value(i))
		}
		return ""
	}
	optI32 := func(ci, i int) int32 {
		if a, ok := opt[ci].(*array.Int32); ok && a.IsValid(i) {
			return a.Value(i)
		}
		return 0
	}
	docID, text, label := str(colDocID), str(colText), str(colLabel)
	modelName, modelVersion, topic, op := str(colModelName), str(colModelVersion), str(colTopic), str(colOp)
	docVersion, chunkIndex, begin, end := i32(colDocVersion), i32(colChunkIndex), i32(colBegin), i32(colEnd)
	sent, part := i32(colSentenceIndex), i32(colPartition)
	conf := rec.Column(colConfidence).(*array.Float32)
	off := rec.Column(colOffset).(*array.Int64)
	// Value aliases Arrow buffers; copy so rows never depend on them, and
	// share copies of the few distinct values of low-cardinality columns.
	intern := make(map[string]string)
	small := func(a *array.String, i int) string {
		v := a.Value(i)
		if s, ok := intern[v]; ok {
			return s
		}
		s := strings.Clone(v)
		intern[s] = s
		return s
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		rows = append(rows, Row{
			DocID:         strings.Clone(docID.Value(i)),
			DocVersion:    docVersion.Value(i),
			ChunkIndex:    chunkIndex.Value(i),
			Begin:         begin.Value(i),
			End:           end.Value(i),
			Text:          strings.Clone(text.Value(i)),
			Label:         small(label, i),
			Confidence:    conf.Value(i),
			SentenceIndex: sent.Value(i),
			ModelName:     small(modelName, i),
			ModelVersion:  small(modelVersion, i),
			Topic:         small(topic, i),
			Partition:     part.Value(i),
			Offset:        off.Value(i),
			Op:            small(op, i),
		})
		if opt[colAbbrevOf] != nil || opt[colGeneID] != nil || opt[colPassage] != nil || opt[colGeneCandidates] != nil {
			r := &rows[len(rows)-1]
			r.AbbreviationOf, r.AbbreviationBegin, r.AbbreviationEnd = optStr(colAbbrevOf, i), optI32(colAbbrevBegin, i), optI32(colAbbrevEnd, i)
			r.GeneID, r.GeneSymbol, r.GeneCandidates = optStr(colGeneID, i), optStr(colGeneSymbol, i), optI32(colGeneCandidates, i)
			r.Passage, r.PassageOffset = optStr(colPassage, i), optI32(colPassageOffset, i)
		}
	}
	return rows
}
