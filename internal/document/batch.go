package document

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Source says where the documents of a batch came from: the input file (base
// name) and the inclusive range of record indexes (PubMed) or line numbers
// (JSON lines) they were read from.
type Source struct {
	// File is the input file's base name, e.g. "pubmed26n0001.xml.gz".
	File string `json:"file"`
	// First is the record index or line number of the first document.
	First int64 `json:"first"`
	// Last is the record index or line number of the last document (>= First).
	Last int64 `json:"last"`
}

// Batch is the Kafka message: a group of documents from one source range.
type Batch struct {
	// SchemaVersion is the message format version; always SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// ID is stable for a given source range (see BatchID), so a replayed
	// batch is recognisable downstream.
	ID string `json:"id"`
	// Source is the provenance of the documents.
	Source Source `json:"source"`
	// Documents are the documents, in source order.
	Documents []Document `json:"documents"`
}

// Limits bound what a batch may hold. A zero field means "no limit".
type Limits struct {
	// MaxDocBytes bounds one document's Content() in bytes.
	MaxDocBytes int
	// MaxBatchBytes bounds the encoded batch message in bytes.
	MaxBatchBytes int
	// MaxDocs bounds the number of documents in a batch.
	MaxDocs int
}

// Default limit values; MaxBatchBytes stays under Kafka's default
// message.max.bytes (1 MB) with room for the key and headers.
const (
	DefaultMaxDocBytes   = 256 << 10
	DefaultMaxBatchBytes = 900_000
	DefaultMaxDocs       = 1024
)

// DefaultLimits returns the limits the producer and the worker use unless
// configured otherwise.
func DefaultLimits() Limits {
	return Limits{MaxDocBytes: DefaultMaxDocBytes, MaxBatchBytes: DefaultMaxBatchBytes, MaxDocs: DefaultMaxDocs}
}

// ErrMalformedBatch is wrapped by every DecodeBatch error that rejects the
// whole message (not JSON, unknown or missing fields, wrong schema version,
// over the batch limits). Such a message should be dead-lettered as a whole.
var ErrMalformedBatch = errors.New("malformed batch")

// DocError reports one document of a batch that failed validation.
type DocError struct {
	// Index is the document's position in the message's documents array.
	Index int
	// ID is the document's id when it could be read, else "".
	ID string
	// Err is the cause: a *FieldError or a JSON decoding error.
	Err error
	// Raw is the document exactly as received, for the dead-letter queue.
	Raw json.RawMessage
}

// Error implements error; it names the document's position and id.
func (e *DocError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("document %d (id %q): %v", e.Index, e.ID, e.Err)
	}
	return fmt.Sprintf("document %d: %v", e.Index, e.Err)
}

// Unwrap returns the cause.
func (e *DocError) Unwrap() error { return e.Err }

// InvalidDocsError is returned by DecodeBatch, together with a batch holding
// the valid documents, when some documents failed validation.
type InvalidDocsError struct {
	// BatchID is the id of the batch the documents came from.
	BatchID string
	// Docs are the rejected documents, in message order.
	Docs []DocError
}

// Error implements error.
func (e *InvalidDocsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "batch %s: %d invalid document(s): ", e.BatchID, len(e.Docs))
	for i := range e.Docs {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Docs)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Docs[i].Error())
	}
	return b.String()
}

// Unwrap exposes the individual document errors to errors.Is / errors.As.
func (e *InvalidDocsError) Unwrap() []error {
	errs := make([]error, len(e.Docs))
	for i := range e.Docs {
		errs[i] = &e.Docs[i]
	}
	return errs
}

// RejectedDocs returns the per-document errors carried by err (an
// *InvalidDocsError, possibly wrapped), or nil.
func RejectedDocs(err error) []DocError {
	var ide *InvalidDocsError
	if errors.As(err, &ide) {
		return ide.Docs
	}
	return nil
}

var (
	batchFields = []string{"schema_version", "id", "source", "documents"}
	docFields   = []string{"id", "title", "text", "version", "op", "passages"}
	srcFields   = []string{"file", "first", "last"}
)

// MaxBatchIDBytes bounds the length of a batch id.
const MaxBatchIDBytes = 128

// DecodeBatch parses and validates a batch message.
//
// Whole-message problems — data that is not one JSON object, unknown or
// missing top-level fields, a schema_version other than SchemaVersion, more
// than lim.MaxBatchBytes bytes or lim.MaxDocs documents — return a nil batch
// and an error wrapping ErrMalformedBatch.
//
// Problems with single documents do not fail the batch: DecodeBatch returns
// the batch holding only the valid documents (in order) and an
// *InvalidDocsError listing the others with their index, id and raw JSON.
// A caller that treats any non-nil error as fatal therefore fails safe (the
// whole batch is dead-lettered); a caller that wants per-document handling
// uses RejectedDocs(err). Field names are matched exactly (case-sensitive);
// unknown document fields reject that document, and so does a second
// document with the id and version of an earlier one (its rows would
// collide with the first's). An empty op decodes as OpUpsert.
func DecodeBatch(data []byte, lim Limits) (*Batch, error) {
	if lim.MaxBatchBytes > 0 && len(data) > lim.MaxBatchBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d", ErrMalformedBatch, len(data), lim.MaxBatchBytes)
	}
	top, err := strictObject(data, batchFields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBatch, err)
	}
	var b Batch
	for _, f := range batchFields {
		if _, ok := top[f]; !ok {
			return nil, fmt.Errorf("%w: missing field %q", ErrMalformedBatch, f)
		}
	}
	if err := json.Unmarshal(top["schema_version"], &b.SchemaVersion); err != nil {
		return nil, fmt.Errorf("%w: schema_version: %v", ErrMalformedBatch, err)
	}
	if b.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: schema_version %d is not supported (want %d)", ErrMalformedBatch, b.SchemaVersion, SchemaVersion)
	}
	if err := json.Unmarshal(top["id"], &b.ID); err != nil {
		return nil, fmt.Errorf("%w: id: %v", ErrMalformedBatch, err)
	}
	if err := decodeSource(top["source"], &b.Source); err != nil {
		return nil, fmt.Errorf("%w: batch %q: %v", ErrMalformedBatch, b.ID, err)
	}
	if err := validateHeader(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBatch, err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(top["documents"], &raws); err != nil || raws == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%w: batch %q: documents: not an array: %v", ErrMalformedBatch, b.ID, err)
	}
	if lim.MaxDocs > 0 && len(raws) > lim.MaxDocs {
		return nil, fmt.Errorf("%w: batch %q: %d documents exceeds the limit of %d", ErrMalformedBatch, b.ID, len(raws), lim.MaxDocs)
	}
	b.Documents = make([]Document, 0, len(raws))
	var bad []DocError
	type idVersion struct {
		id      string
		version int
	}
	seen := make(map[idVersion]int, len(raws))
	for i, raw := range raws {
		d, id, err := decodeDoc(raw, lim)
		if err == nil {
			if first, dup := seen[idVersion{d.ID, d.Version}]; dup {
				err = &FieldError{"id", fmt.Sprintf("duplicate of document %d in the same batch (same id and version)", first)}
			} else {
				seen[idVersion{d.ID, d.Version}] = i
			}
		}
		if err != nil {
			bad = append(bad, DocError{Index: i, ID: id, Err: err, Raw: raw})
			continue
		}
		b.Documents = append(b.Documents, d)
	}
	if bad != nil {
		return &b, &InvalidDocsError{BatchID: b.ID, Docs: bad}
	}
	return &b, nil
}

// strictObject decodes data as exactly one JSON object whose keys are all in
// allowed (case-sensitive) and rejects trailing data.
func strictObject(data []byte, allowed []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("not a JSON object: null")
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("trailing data after the JSON object (%d bytes)", len(rest))
	}
	for k := range m {
		if !contains(allowed, k) {
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decodeSource(raw json.RawMessage, s *Source) error {
	m, err := strictObject(raw, srcFields)
	if err != nil {
		return fmt.Errorf("source: %v", err)
	}
	for _, f := range srcFields {
		v, ok := m[f]
		if !ok {
			return fmt.Errorf("source: missing field %q", f)
		}
		var dst any
		switch f {
		case "file":
			dst = &s.File
		case "first":
			dst = &s.First
		case "last":
			dst = &s.Last
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("source.%s: %v", f, err)
		}
	}
	return nil
}

func validateHeader(b *Batch) error {
	switch {
	case strings.TrimSpace(b.ID) == "":
		return errors.New("id: empty")
	case len(b.ID) > MaxBatchIDBytes:
		return fmt.Errorf("id: %d bytes exceeds %d", len(b.ID), MaxBatchIDBytes)
	case b.Source.File == "":
		return fmt.Errorf("batch %q: source.file: empty", b.ID)
	case b.Source.First < 0:
		return fmt.Errorf("batch %q: source.first: negative (%d)", b.ID, b.Source.First)
	case b.Source.Last < b.Source.First:
		return fmt.Errorf("batch %q: source.last %d is before source.first %d", b.ID, b.Source.Last, b.Source.First)
	}
	return nil
}

// decodeDoc decodes and validates one document; it returns the id when it
// could be read even if the document is invalid.
func decodeDoc(raw json.RawMessage, lim Limits) (Document, string, error) {
	var d Document
	m, err := strictObject(raw, docFields)
	if err != nil {
		return d, "", err
	}
	if v, ok := m["id"]; ok {
		if err := unmarshalField("id", v, &d.ID); err != nil {
			return d, "", err
		}
	} else {
		return d, "", &FieldError{"id", "missing"}
	}
	id := d.ID
	var op string
	fields := []struct {
		name string
		dst  any
	}{{"title", &d.Title}, {"text", &d.Text}, {"version", &d.Version}, {"op", &op}, {"passages", &d.Passages}}
	for _, f := range fields {
		if v, ok := m[f.name]; ok {
			if err := unmarshalField(f.name, v, f.dst); err != nil {
				return d, id, err
			}
		}
	}
	d.Op = Op(op)
	if d.Op == "" {
		d.Op = OpUpsert
	}
	if _, ok := m["text"]; !ok && d.Op != OpDelete {
		return d, id, &FieldError{"text", "missing (required unless op is delete)"}
	}
	if err := Validate(d, lim); err != nil {
		return d, id, err
	}
	return d, id, nil
}

func unmarshalField(name string, v json.RawMessage, dst any) error {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return &FieldError{name, "null"}
	}
	if err := json.Unmarshal(v, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &FieldError{name, "want " + te.Type.String() + ", got JSON " + te.Value}
		}
		return &FieldError{name, err.Error()}
	}
	return nil
}

// EncodeBatch validates b (header and every document, without size limits)
// and encodes it as the compact JSON message, HTML characters unescaped. A
// zero SchemaVersion is written as SchemaVersion; an empty op is written as
// absent. Errors name the offending document.
func EncodeBatch(b *Batch) ([]byte, error) {
	if b == nil {
		return nil, errors.New("encode batch: nil batch")
	}
	out := *b
	if out.SchemaVersion == 0 {
		out.SchemaVersion = SchemaVersion
	}
	if out.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("encode batch %q: schema_version %d is not supported", b.ID, out.SchemaVersion)
	}
	if err := validateHeader(&out); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if out.Documents == nil {
		out.Documents = []Document{}
	}
	for i, d := range out.Documents {
		if err := Validate(d, Limits{}); err != nil {
			return nil, fmt.Errorf("encode batch %q: %w", b.ID, &DocError{Index: i, ID: d.ID, Err: err})
		}
	}
	return marshal(&out)
}

// EncodeDocument encodes one document as it appears in a batch's documents
// array (compact JSON, HTML characters unescaped), e.g. for a dead letter.
func EncodeDocument(d Document) ([]byte, error) { return marshal(d) }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodedDocSize returns the size of d in the encoded documents array.
func encodedDocSize(d Document) (int, error) {
	data, err := marshal(d)
	return len(data), err
}

// headerOverhead is an upper bound on the bytes of an encoded batch other
// than its documents and the commas between them.
func headerOverhead(file string) int {
	f, _ := marshal(file)
	// {"schema_version":N,"id":"<16 hex>","source":{"file":F,"first":I,"last":I},"documents":[]}
	return len(`{"schema_version":,"id":"","source":{"file":,"first":,"last":},"documents":[]}`) +
		len(strconv.Itoa(SchemaVersion)) + MaxBatchIDBytes + len(f) + 2*20
}
