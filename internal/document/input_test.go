package document

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestDecompress(t *testing.T) {
	plain := "{\"id\":\"a\",\"text\":\"x\"}\n"
	z := gz(t, plain)
	tests := []struct {
		name      string
		in        []byte
		want      string
		gzipped   bool
		wantErr   bool // from Decompress itself
		unreadErr bool // from reading the result
	}{
		{"plain", []byte(plain), plain, false, false, false},
		{"gzip", z, plain, true, false, false},
		{"empty", nil, "", false, false, false},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0}, "", true, true, false},
		{"truncated gzip", z[:len(z)-6], "", true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, gzipped, err := Decompress(bytes.NewReader(tc.in))
			if gzipped != tc.gzipped {
				t.Errorf("gzipped = %v", gzipped)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrUnreadable) {
					t.Fatalf("err = %v, want ErrUnreadable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if tc.unreadErr {
				if !errors.Is(err, ErrUnreadable) {
					t.Fatalf("read err = %v, want ErrUnreadable", err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("read %q, %v", got, err)
			}
		})
	}
	if Unreadable(nil) != nil {
		t.Error("Unreadable(nil) != nil")
	}
	cause := errors.New("disk")
	if err := Unreadable(cause); !errors.Is(err, cause) || !errors.Is(err, ErrUnreadable) || err.Error() != "disk" {
		t.Errorf("Unreadable = %v", err)
	}
}

func TestScanJSONLBOMStrictAndRaw(t *testing.T) {
	in := "\ufeff{\"id\":\"a\",\"text\":\"x\",\"entities\":[1]}\n{\"id\":\"b\",\"text\":\"y\"}\n"
	var raws []string
	st, err := ScanJSONLRaw(context.Background(), strings.NewReader(in), "f.jsonl", Limits{}, StrictRejects(),
		func(d Document, line int64, raw []byte) error {
			raws = append(raws, d.ID+"@"+string(raw))
			return nil
		})
	if err != nil || st.Docs != 2 {
		t.Fatalf("BOM line: %v, %+v", err, st)
	}
	if !strings.HasPrefix(raws[0], `a@{"id":"a"`) || !strings.Contains(raws[0], `"entities":[1]`) {
		t.Errorf("raw lines %q", raws)
	}
	// A BOM later than the first line is not skipped: it is not JSON.
	_, err = ScanJSONL(context.Background(), strings.NewReader("{\"id\":\"a\",\"text\":\"x\"}\n\ufeff{\"id\":\"b\",\"text\":\"y\"}\n"), "g.jsonl",
		Limits{}, StrictRejects(), func(Document, int64) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "g.jsonl:2: not a JSON document object") {
		t.Fatalf("strict reject: %v", err)
	}
}

func TestDecodeBatchRejectsTrailingGarbage(t *testing.T) {
	b := Batch{SchemaVersion: SchemaVersion, ID: "b1", Source: Source{File: "f", First: 0, Last: 0},
		Documents: []Document{{ID: "a", Text: "x"}}}
	v, err := EncodeBatch(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBatch(append(append([]byte(nil), v...), "  \n"...), DefaultLimits()); err != nil {
		t.Fatalf("trailing white space refused: %v", err)
	}
	for _, tail := range []string{"xyz", "{}", `{"id":"b2"}`, "]"} {
		_, err := DecodeBatch(append(append([]byte(nil), v...), tail...), DefaultLimits())
		if !errors.Is(err, ErrMalformedBatch) || !strings.Contains(err.Error(), "trailing data") {
			t.Errorf("batch + %q: %v, want a malformed batch with trailing data", tail, err)
		}
	}
}
