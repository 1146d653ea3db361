package sink

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const jsonSchemaPath = "../../schemas/chunks.schema.json"

// chunksJSONSchema builds the JSON Schema of one chunk row from the column
// table, with the constraints ValidateRow enforces.
func chunksJSONSchema() map[string]any {
	props := map[string]any{}
	var names, required []string
	for i, c := range columns {
		p := map[string]any{"description": c.doc}
		switch c.typ.ID() {
		case arrow.STRING:
			p["type"], p["x-parquet-type"] = "string", "BYTE_ARRAY (STRING)"
		case arrow.INT32:
			p["type"], p["x-parquet-type"] = "integer", "INT32"
			p["minimum"], p["maximum"] = 0, math.MaxInt32
		case arrow.INT64:
			p["type"], p["x-parquet-type"] = "integer", "INT64"
			p["minimum"], p["maximum"] = 0, math.MaxInt64
		case arrow.FLOAT32:
			p["type"], p["x-parquet-type"] = "number", "FLOAT"
			p["minimum"], p["maximum"] = 0, 1
		}
		switch c.name {
		case "doc_id":
			p["minLength"] = 1
		case "doc_version":
			p["minimum"] = math.MinInt32
		case "chunk_index":
			p["minimum"] = DocumentMarker
		case "op":
			p["enum"] = []string{OpUpsert, OpDelete}
		}
		if i >= firstOptional {
			p["type"] = []any{p["type"], "null"}
		} else {
			required = append(required, c.name)
		}
		props[c.name] = p
		names = append(names, c.name)
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/nerstream/nerstream/schemas/chunks.schema.json",
		"title":                "nerstream chunk row",
		"description":          "One row of a nerstream chunks Parquet file (schemas/chunks.md). Generated from internal/sink; NERSTREAM_UPDATE_SCHEMAS=1 go test ./internal/sink rewrites it.",
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
		"x-column-order":       names,
		"allOf": []any{map[string]any{
			"if":   map[string]any{"properties": map[string]any{"op": map[string]any{"const": OpDelete}}},
			"then": map[string]any{"properties": map[string]any{"chunk_index": map[string]any{"const": DocumentMarker}}},
		}},
	}
}

// TestJSONSchemaUpToDate keeps schemas/chunks.schema.json generated from the
// column table.
func TestJSONSchemaUpToDate(t *testing.T) {
	want, err := json.MarshalIndent(chunksJSONSchema(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("NERSTREAM_UPDATE_SCHEMAS") == "1" {
		if err := os.WriteFile(jsonSchemaPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(jsonSchemaPath)
	if err != nil {
		t.Fatalf("read %s: %v (NERSTREAM_UPDATE_SCHEMAS=1 writes it)", jsonSchemaPath, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the column table; rerun with NERSTREAM_UPDATE_SCHEMAS=1", jsonSchemaPath)
	}
}

// rowJSON renders r with the Parquet column names.
func rowJSON(r Row) map[string]any {
	return map[string]any{
		"doc_id": r.DocID, "doc_version": r.DocVersion, "chunk_index": r.ChunkIndex, "char_begin": r.Begin,
		"char_end": r.End, "text": r.Text, "label": r.Label, "confidence": r.Confidence,
		"sentence_index": r.SentenceIndex, "model_name": r.ModelName, "model_version": r.ModelVersion,
		"kafka_topic": r.Topic, "kafka_partition": r.Partition, "kafka_offset": r.Offset, "op": r.Op,
	}
}

// TestJSONSchemaAgreesWithValidateRow: rows WriteParquet accepts validate
// against the JSON Schema, and the bad rows it rejects for per-field reasons
// fail it too.
func TestJSONSchemaAgreesWithValidateRow(t *testing.T) {
	abs, err := filepath.Abs(jsonSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", jsonSchemaPath, err)
	}
	validate := func(r Row) error {
		b, err := json.Marshal(rowJSON(r))
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(inst)
	}
	good := genRows(20, "docs", 0, 0)
	good = append(good, Row{DocID: "d", ChunkIndex: DocumentMarker, Op: OpDelete, Topic: "t"})
	for i, r := range good {
		if err := ValidateRow(&r); err != nil {
			t.Fatalf("row %d: ValidateRow: %v", i, err)
		}
		if err := validate(r); err != nil {
			t.Fatalf("row %d valid for WriteParquet but not for the JSON Schema: %v", i, err)
		}
	}
	for name, edit := range map[string]func(*Row){
		"empty doc":          func(r *Row) { r.DocID = "" },
		"bad op":             func(r *Row) { r.Op = "insert" },
		"chunk -2":           func(r *Row) { r.ChunkIndex = -2 },
		"delete with chunk":  func(r *Row) { r.Op = OpDelete },
		"negative begin":     func(r *Row) { r.Begin = -1 },
		"negative offset":    func(r *Row) { r.Offset = -1 },
		"negative partition": func(r *Row) { r.Partition = -1 },
		"confidence 2":       func(r *Row) { r.Confidence = 2 },
	} {
		r := good[0]
		edit(&r)
		if ValidateRow(&r) == nil {
			t.Fatalf("%s: ValidateRow accepted it", name)
		}
		if err := validate(r); err == nil {
			t.Errorf("%s: JSON Schema accepted a row WriteParquet rejects", name)
		} else if !strings.Contains(err.Error(), "jsonschema") {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
}
