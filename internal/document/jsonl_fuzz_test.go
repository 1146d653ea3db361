package document

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzScanJSONL: any input is either read or rejected line by line; every
// document handed out is valid under the limits, and the counts add up.
func FuzzScanJSONL(f *testing.F) {
	f.Add([]byte(`{"id":"a","text":"x"}` + "\n" + `{"pmid":12,"text":"y","title":"t"}`))
	f.Add([]byte("\uFEFF" + `{"id":"a","op":"delete"}` + "\n\n" + `not json`))
	f.Add([]byte(`{"id":"","text":"x"}` + "\r\n" + `{"id":"b","text":"` + "\xff" + `"}`))
	lim := Limits{MaxDocBytes: 512}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rej bytes.Buffer
		docs := int64(0)
		st, err := ScanJSONL(context.Background(), bytes.NewReader(data), "fuzz.jsonl", lim, NewRejectSink(&rej), func(d Document, line int64) error {
			if err := Validate(d, lim); err != nil {
				t.Fatalf("line %d: invalid document handed out: %v", line, err)
			}
			docs++
			return nil
		})
		if errors.Is(err, ErrNotUTF8) && st.Lines == 0 {
			return // UTF-16/32 input is refused as a whole, before any line
		}
		if err != nil {
			t.Fatalf("ScanJSONL: %v", err)
		}
		if st.Docs != docs || st.Docs+st.Rejected > st.Lines || st.Bytes != int64(len(data)) {
			t.Fatalf("stats %+v for %d docs and %d bytes", st, docs, len(data))
		}
	})
}
