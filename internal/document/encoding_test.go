package document

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// TestUTF16And32InputIsRefusedNamingTheEncoding: JSON lines saved as
// UTF-16 or UTF-32 (with a byte-order mark, or without one) are refused by
// ScanJSONL and Decompress (plain or gzipped) with an error naming the file
// and the encoding, not "invalid character 'ÿ'"; UTF-8, with or without its
// mark, is read.
func TestUTF16And32InputIsRefusedNamingTheEncoding(t *testing.T) {
	const text = `{"id":"a","text":"IL-2 in T cells"}` + "\n"
	tests := []struct {
		enc  encoding.Encoding
		want string // "" = read
	}{
		{unicode.UTF8, ""},
		{unicode.UTF8BOM, ""},
		{unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), "UTF-16LE (byte-order mark FF FE)"},
		{unicode.UTF16(unicode.BigEndian, unicode.UseBOM), "UTF-16BE (byte-order mark FE FF)"},
		{utf32.UTF32(utf32.LittleEndian, utf32.UseBOM), "UTF-32LE (byte-order mark FF FE 00 00)"},
		{utf32.UTF32(utf32.BigEndian, utf32.UseBOM), "UTF-32BE (byte-order mark 00 00 FE FF)"},
		{unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "every other byte of its start is NUL"},
		{utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "every other byte of its start is NUL"},
	}
	for _, tt := range tests {
		data, err := tt.enc.NewEncoder().Bytes([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			t.Helper()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%v %s: %v", tt.enc, what, err)
			case tt.want != "" && (!strings.Contains(fmt.Sprint(err), tt.want) || !errors.Is(err, ErrNotUTF8) || !errors.Is(err, ErrUnreadable)):
				t.Errorf("%v %s: err = %v, want %q", tt.enc, what, err, tt.want)
			}
		}
		var docs int
		_, err = ScanJSONL(context.Background(), bytes.NewReader(data), "in.jsonl", Limits{}, StrictRejects(), func(Document, int64) error { docs++; return nil })
		check("ScanJSONL", err)
		if err != nil && !strings.Contains(err.Error(), "in.jsonl") {
			t.Errorf("error %q does not name the file", err)
		}
		if tt.want == "" && docs != 1 {
			t.Errorf("%v: %d documents read, want 1", tt.enc, docs)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		for name, in := range map[string][]byte{"Decompress": data, "Decompress(gzip)": gz.Bytes()} {
			rd, _, err := Decompress(bytes.NewReader(in))
			check(name, err)
			if err == nil {
				if got, _ := io.ReadAll(rd); !bytes.Equal(got, data) {
					t.Errorf("%v %s: content changed", tt.enc, name)
				}
			}
		}
	}
	// A few NUL bytes in UTF-8 input are bad lines, not a foreign
	// encoding: the valid lines are still read.
	var rej bytes.Buffer
	st, err := ScanJSONL(context.Background(), strings.NewReader("\x00\x00 junk\n"+text), "nul.jsonl", Limits{}, NewRejectSink(&rej), func(Document, int64) error { return nil })
	if err != nil || st.Docs != 1 || st.Rejected != 1 {
		t.Errorf("NUL line then a document: %+v, %v", st, err)
	}
}
