package document

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitBatch: SplitBatch never panics, and on valid JSON with an id
// string and one documents array it hands over exactly the elements
// encoding/json finds, byte for byte.
func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"id":"b","source":{"file":"f","first":0,"last":1},"documents":[{"id":"a","text":"x"}, {"id":"b","text":"y\"]"}]}`))
	f.Add([]byte(`{"id":"b","documents":[[[1,2],{"a":[]}], "s", 1e5, null, true]}`))
	f.Add([]byte(`{"id":"b","documents":[`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []json.RawMessage
		_, err := SplitBatch(data, func(_ string, _ int, raw []byte) error {
			got = append(got, append(json.RawMessage(nil), raw...))
			return nil
		})
		var want struct {
			ID        *string           `json:"id"`
			Documents []json.RawMessage `json:"documents"`
		}
		if !json.Valid(data) || bytes.Count(data, []byte(`"documents"`)) != 1 || json.Unmarshal(data, &want) != nil || want.ID == nil || want.Documents == nil {
			return
		}
		if err != nil {
			t.Fatalf("SplitBatch(%q) = %v on a valid batch", data, err)
		}
		if len(got) != len(want.Documents) {
			t.Fatalf("%d documents, want %d", len(got), len(want.Documents))
		}
		for i := range got {
			if !bytes.Equal(got[i], want.Documents[i]) {
				t.Fatalf("document %d = %q, want %q", i, got[i], want.Documents[i])
			}
		}
	})
}
