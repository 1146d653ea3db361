package document

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaPath = "../../schemas/batch.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

func schemaValid(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestEncodedBatchesMatchSchema validates what EncodeBatch and the Batcher
// produce against schemas/batch.schema.json.
func TestEncodedBatchesMatchSchema(t *testing.T) {
	sch := compileSchema(t)
	bt := NewBatcher("pubmed26n0001.xml.gz", WithMaxDocs(3))
	var batches []*Batch
	for i, d := range []Document{
		{ID: "1", Title: "A title", Text: "Text with \"quotes\", <tags> & unicode β\u2009."},
		{ID: "2", Text: "", Version: 3},
		{ID: "3", Op: OpDelete, Version: 2},
		{ID: "4", Title: "Only a title", Op: OpUpsert},
		{ID: "x y", Text: "t"},
	} {
		full, err := bt.Add(d, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if full != nil {
			batches = append(batches, full)
		}
	}
	batches = append(batches, bt.Flush(), sampleBatch())
	for _, b := range batches {
		data, err := EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValid(t, sch, data); err != nil {
			t.Errorf("batch %s does not match the schema: %v\n%s", b.ID, err, data)
		}
	}
}

// TestSchemaAgreesWithDecoder checks that the schema and DecodeBatch (with
// no size limits) accept and reject the same messages.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	sch := compileSchema(t)
	hdr := `"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":1}`
	msgs := []string{
		`{` + hdr + `,"documents":[]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t","title":"T","version":2,"op":"upsert"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","op":"delete"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","op":"delete","text":""}]}`,
		`{` + hdr + `,"documents":[{"id":"a","op":"delete","text":"x"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","op":"delete","title":"x"}]}`,
		`{` + hdr + `,"documents":[{"id":"a"}]}`,
		`{` + hdr + `,"documents":[{"id":"","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a\u0007","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a\u0085","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a\u2028b","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a\u2029","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a|b\u00a0β","text":"t"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t","op":"merge"}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t","version":-2}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t","version":2.5}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":"t","x":1}]}`,
		`{` + hdr + `,"documents":[{"id":"a","text":5}]}`,
		`{` + hdr + `,"documents":[{"id":"` + strings.Repeat("a", 257) + `","text":"t"}]}`,
		`{` + hdr + `,"documents":[7]}`,
		`{` + hdr + `,"documents":[]`,
		`{` + hdr + `}`,
		`{` + hdr + `,"documents":[],"more":1}`,
		`{"schema_version":2,"id":"x","source":{"file":"f","first":0,"last":1},"documents":[]}`,
		`{"schema_version":1,"id":"","source":{"file":"f","first":0,"last":1},"documents":[]}`,
		`{"schema_version":1,"id":"x","source":{"file":"","first":0,"last":1},"documents":[]}`,
		`{"schema_version":1,"id":"x","source":{"file":"f","first":-1,"last":1},"documents":[]}`,
		`{"schema_version":1,"id":"x","source":{"file":"f","first":0},"documents":[]}`,
		`{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":1,"z":0},"documents":[]}`,
	}
	for _, m := range msgs {
		_, derr := DecodeBatch([]byte(m), Limits{})
		serr := schemaValid(t, sch, []byte(m))
		if (derr == nil) != (serr == nil) {
			t.Errorf("disagreement on %s\n decoder: %v\n schema: %v", m, derr, serr)
		}
	}
}

// TestSchemaFieldsInSync reflects over the Go types' json tags and checks
// them against the schema's properties and required lists.
func TestSchemaFieldsInSync(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	type obj struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	var root struct {
		obj
		Defs map[string]obj `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	var src obj
	if err := json.Unmarshal(root.Properties["source"], &src); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  reflect.Type
		obj  obj
	}{
		{"batch", reflect.TypeFor[Batch](), root.obj},
		{"source", reflect.TypeFor[Source](), src},
		{"document", reflect.TypeFor[Document](), root.Defs["document"]},
	}
	for _, tt := range tests {
		var names []string
		for f := range tt.typ.Fields() {
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s has no json name", tt.typ.Name(), f.Name)
				continue
			}
			names = append(names, name)
			if _, ok := tt.obj.Properties[name]; !ok {
				t.Errorf("%s: Go field %s (%q) missing from the schema", tt.name, f.Name, name)
			}
			if strings.Contains(opts, "omitempty") && slices.Contains(tt.obj.Required, name) {
				t.Errorf("%s: %q is required by the schema but omitempty in Go", tt.name, name)
			}
		}
		for p := range tt.obj.Properties {
			if !slices.Contains(names, p) {
				t.Errorf("%s: schema property %q has no Go field", tt.name, p)
			}
		}
	}
	// The decoder's strict field lists must match the types too.
	for _, c := range []struct {
		list []string
		typ  reflect.Type
	}{{batchFields, reflect.TypeFor[Batch]()}, {srcFields, reflect.TypeFor[Source]()}, {docFields, reflect.TypeFor[Document]()}} {
		var names []string
		for f := range c.typ.Fields() {
			n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			names = append(names, n)
		}
		if !reflect.DeepEqual(names, c.list) {
			t.Errorf("decoder field list %v != %s json names %v", c.list, c.typ.Name(), names)
		}
	}
}
