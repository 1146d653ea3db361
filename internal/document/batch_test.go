package document

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func sampleBatch() *Batch {
	return &Batch{
		SchemaVersion: SchemaVersion,
		ID:            BatchID("f.xml", 3, 5),
		Source:        Source{File: "f.xml", First: 3, Last: 5},
		Documents: []Document{
			{ID: "1", Title: "T <i>x</i> & y", Text: "Body.", Version: 2},
			{ID: "2", Text: "Only text.", Op: OpUpsert},
			{ID: "3", Op: OpDelete},
		},
	}
}

func TestContent(t *testing.T) {
	tests := []struct {
		d    Document
		want string
	}{
		{Document{Title: "T", Text: "B"}, "T\nB"},
		{Document{Text: "B"}, "B"},
		{Document{Title: "T"}, "T"},
		{Document{}, ""},
		{Document{Title: "Tïtle", Text: "β body"}, "Tïtle\nβ body"},
	}
	for _, tt := range tests {
		if got := tt.d.Content(); got != tt.want {
			t.Errorf("Content(%+v) = %q, want %q", tt.d, got, tt.want)
		}
		if got := tt.d.ContentBytes(); got != len(tt.want) {
			t.Errorf("ContentBytes(%+v) = %d, want %d", tt.d, got, len(tt.want))
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b := sampleBatch()
	data, err := EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "<i>x</i> & y") {
		t.Errorf("HTML characters escaped: %s", data)
	}
	got, err := DecodeBatch(data, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	b.Documents[0].Op = OpUpsert // decoding resolves the empty op
	if !reflect.DeepEqual(got, b) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, b)
	}
}

func TestDecodeBatchEmptyOpIsUpsert(t *testing.T) {
	data := `{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":0},"documents":[{"id":"a","text":"t"}]}`
	b, err := DecodeBatch([]byte(data), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if b.Documents[0].Op != OpUpsert {
		t.Errorf("op = %q, want upsert", b.Documents[0].Op)
	}
}

func TestDecodeBatchMalformed(t *testing.T) {
	good := `{"id":"a","text":"t"}`
	batch := func(header string) string {
		return `{` + header + `,"documents":[` + good + `]}`
	}
	hdr := `"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":1}`
	many := strings.Repeat(good+",", 4) + good
	tests := []struct {
		name, data, want string
		lim              Limits
	}{
		{"not json", `hello`, "not a JSON object", Limits{}},
		{"empty", ``, "not a JSON object", Limits{}},
		{"array", `[1,2]`, "not a JSON object", Limits{}},
		{"null", `null`, "null", Limits{}},
		{"trailing", batch(hdr) + `{}`, "trailing data", Limits{}},
		{"trailing garbage", batch(hdr) + `}garbage`, "trailing data", Limits{}},
		{"trailing bracket", batch(hdr) + " ]", "trailing data", Limits{}},
		{"trailing NUL", batch(hdr) + "\x00", "trailing data", Limits{}},
		{"unknown top field", `{` + hdr + `,"documents":[],"extra":1}`, `unknown field "extra"`, Limits{}},
		{"case mismatch", `{"schema_version":1,"ID":"x","source":{"file":"f","first":0,"last":1},"documents":[]}`, `unknown field "ID"`, Limits{}},
		{"missing documents", `{` + hdr + `}`, `missing field "documents"`, Limits{}},
		{"null documents", `{` + hdr + `,"documents":null}`, "documents: not an array", Limits{}},
		{"documents object", `{` + hdr + `,"documents":{}}`, "documents: not an array", Limits{}},
		{"schema version 2", batch(`"schema_version":2,"id":"x","source":{"file":"f","first":0,"last":1}`), "schema_version 2 is not supported", Limits{}},
		{"schema version string", batch(`"schema_version":"1","id":"x","source":{"file":"f","first":0,"last":1}`), "schema_version", Limits{}},
		{"empty id", batch(`"schema_version":1,"id":"","source":{"file":"f","first":0,"last":1}`), "id: empty", Limits{}},
		{"source unknown field", batch(`"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":1,"x":2}`), `source: unknown field "x"`, Limits{}},
		{"source missing last", batch(`"schema_version":1,"id":"x","source":{"file":"f","first":0}`), `source: missing field "last"`, Limits{}},
		{"source reversed", batch(`"schema_version":1,"id":"x","source":{"file":"f","first":3,"last":1}`), "before source.first", Limits{}},
		{"source empty file", batch(`"schema_version":1,"id":"x","source":{"file":"","first":0,"last":1}`), "source.file: empty", Limits{}},
		{"too big", batch(hdr), "exceeds the limit of 10", Limits{MaxBatchBytes: 10}},
		{"too many docs", `{` + hdr + `,"documents":[` + many + `]}`, "5 documents exceeds the limit of 4", Limits{MaxDocs: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBatch([]byte(tt.data), tt.lim)
			if err == nil {
				t.Fatalf("no error, batch %+v", b)
			}
			if b != nil {
				t.Errorf("batch returned with a whole-message error: %+v", b)
			}
			if !errors.Is(err, ErrMalformedBatch) {
				t.Errorf("error %v does not wrap ErrMalformedBatch", err)
			}
			if RejectedDocs(err) != nil {
				t.Errorf("whole-message error carries document errors")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestDecodeBatchDocErrors(t *testing.T) {
	big := strings.Repeat("x", 101)
	docs := []struct {
		raw   string
		field string // "" = valid
		id    string
	}{
		{`{"id":"ok1","text":"fine"}`, "", "ok1"},
		{`{"id":"","text":"t"}`, "id", ""},
		{`{"text":"t"}`, "id", ""},
		{`{"id":"   ","text":"t"}`, "id", "   "},
		{`{"id":"a\u0001b","text":"t"}`, "id", "a\x01b"},
		{`{"id":7,"text":"t"}`, "id", ""},
		{`{"id":"bad-op","text":"t","op":"insert"}`, "op", "bad-op"},
		{`{"id":"no-text"}`, "text", "no-text"},
		{`{"id":"null-text","text":null}`, "text", "null-text"},
		{`{"id":"big","text":"` + big + `"}`, "text", "big"},
		{`{"id":"big-title","title":"` + big[:60] + `","text":"` + big[:60] + `"}`, "text", "big-title"},
		{`{"id":"neg","text":"t","version":-1}`, "version", "neg"},
		{`{"id":"float","text":"t","version":1.5}`, "version", "float"},
		{`{"id":"del-text","op":"delete","text":"x"}`, "text", "del-text"},
		{`{"id":"extra","text":"t","entities":[]}`, "unknown field", ""},
		{`"just a string"`, "not a JSON object", ""},
		{`{"id":"ok2","op":"delete"}`, "", "ok2"},
		{`{"id":"ok3","title":"T","text":"` + big[:98] + `"}`, "", "ok3"},
	}
	raws := make([]string, len(docs))
	for i, d := range docs {
		raws[i] = d.raw
	}
	data := `{"schema_version":1,"id":"b1","source":{"file":"f","first":0,"last":17},"documents":[` + strings.Join(raws, ",") + `]}`
	b, err := DecodeBatch([]byte(data), Limits{MaxDocBytes: 100})
	if b == nil {
		t.Fatalf("nil batch: %v", err)
	}
	bad := RejectedDocs(err)
	if bad == nil {
		t.Fatalf("want InvalidDocsError, got %v", err)
	}
	if errors.Is(err, ErrMalformedBatch) {
		t.Errorf("per-document errors wrap ErrMalformedBatch")
	}
	var wantGood []string
	badIdx := map[int]bool{}
	for i, d := range docs {
		if d.field == "" {
			wantGood = append(wantGood, d.id)
		} else {
			badIdx[i] = true
		}
	}
	var gotGood []string
	for _, d := range b.Documents {
		gotGood = append(gotGood, d.ID)
	}
	if !reflect.DeepEqual(gotGood, wantGood) {
		t.Errorf("valid docs = %v, want %v", gotGood, wantGood)
	}
	if len(bad) != len(badIdx) {
		t.Fatalf("%d doc errors, want %d: %v", len(bad), len(badIdx), err)
	}
	for _, de := range bad {
		want := docs[de.Index]
		if !badIdx[de.Index] {
			t.Errorf("doc %d rejected but valid: %v", de.Index, de.Err)
			continue
		}
		if !strings.Contains(de.Err.Error(), want.field) {
			t.Errorf("doc %d: error %q does not name %q", de.Index, de.Err, want.field)
		}
		if de.ID != want.id {
			t.Errorf("doc %d: id %q, want %q", de.Index, de.ID, want.id)
		}
		if string(de.Raw) != want.raw {
			t.Errorf("doc %d: raw %s, want %s", de.Index, de.Raw, want.raw)
		}
		if !strings.Contains(de.Error(), fmt.Sprintf("document %d", de.Index)) {
			t.Errorf("error %q does not name the position", de.Error())
		}
	}
	if !strings.Contains(err.Error(), "batch b1") {
		t.Errorf("error %q does not name the batch", err)
	}
	var de *DocError
	if !errors.As(err, &de) || de.Index != 1 {
		t.Errorf("errors.As(*DocError) = %v", de)
	}
}

func TestEncodeBatchRejectsInvalid(t *testing.T) {
	b := sampleBatch()
	b.Documents[1].ID = ""
	_, err := EncodeBatch(b)
	if err == nil || !strings.Contains(err.Error(), "document 1") || !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want document 1 invalid", err)
	}
	b = sampleBatch()
	b.Source.Last = 1
	if _, err := EncodeBatch(b); err == nil {
		t.Error("reversed source range encoded")
	}
	if _, err := EncodeBatch(nil); err == nil {
		t.Error("nil batch encoded")
	}
	b = sampleBatch()
	b.SchemaVersion = 0
	data, err := EncodeBatch(b)
	if err != nil || !strings.HasPrefix(string(data), `{"schema_version":1,`) {
		t.Errorf("zero schema version: %s, %v", data, err)
	}
	if b.SchemaVersion != 0 {
		t.Error("EncodeBatch modified its input")
	}
}

func FuzzDecodeBatch(f *testing.F) {
	data, _ := EncodeBatch(sampleBatch())
	f.Add(data)
	f.Add([]byte(`{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":0},"documents":[{"id":"a","text":"t"},{"id":""}]}`))
	f.Add([]byte(`{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":0},"documents":[1,null,"s",{"id":"a","op":"delete"}]}`))
	f.Add([]byte(`[]`))
	lim := Limits{MaxDocBytes: 1000, MaxBatchBytes: 100000, MaxDocs: 50}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data, lim)
		if b == nil {
			if err == nil {
				t.Fatal("nil batch and nil error")
			}
			if !errors.Is(err, ErrMalformedBatch) {
				t.Fatalf("nil batch with error %v that is not ErrMalformedBatch", err)
			}
			return
		}
		if err != nil && RejectedDocs(err) == nil {
			t.Fatalf("batch with non-document error %v", err)
		}
		for _, d := range b.Documents {
			if verr := Validate(d, lim); verr != nil {
				t.Fatalf("accepted invalid doc %+v: %v", d, verr)
			}
		}
		// What was accepted must re-encode and decode to the same batch.
		enc, eerr := EncodeBatch(b)
		if eerr != nil {
			t.Fatalf("re-encode accepted batch: %v", eerr)
		}
		b2, err2 := DecodeBatch(enc, Limits{MaxDocBytes: lim.MaxDocBytes})
		if err2 != nil {
			t.Fatalf("decode re-encoded batch: %v\n%s", err2, enc)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", b, b2)
		}
		_ = json.Valid(enc)
	})
}

func TestDecodeBatchRejectsDuplicateIDs(t *testing.T) {
	data := `{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":2},"documents":[` +
		`{"id":"a","text":"one"},{"id":"b","text":"two"},{"id":"a","text":"again"},{"id":"a","version":2,"text":"revised"}]}`
	b, err := DecodeBatch([]byte(data), DefaultLimits())
	bad := RejectedDocs(err)
	if b == nil || len(b.Documents) != 3 || len(bad) != 1 || bad[0].Index != 2 || bad[0].ID != "a" ||
		!strings.Contains(bad[0].Error(), "duplicate of document 0") {
		t.Fatalf("batch %+v, rejected %+v; want the second \"a\" rejected as a duplicate of document 0", b, bad)
	}
}
