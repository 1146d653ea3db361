package document

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestScanJSONL(t *testing.T) {
	long := strings.Repeat("y", 300)
	input := strings.Join([]string{
		`{"id":"a","text":"first"}`,
		``,
		`{"pmid":"90205027","text":"T\nbody","entities":[{"begin":0}]}`,
		`not json`,
		`{"id":"b","title":"Title","text":"x","version":2}`,
		`{"text":"no id"}`,
		`{"id":"c","op":"delete"}`,
		`{"id":"d","op":"upsert"}`,
		`{"pmid":12345,"text":"numeric pmid"}`,
		`{"id":"long","text":"` + long + `"}`,
		`{"id":"huge","text":"` + strings.Repeat("z", 64<<10+300) + `"}`,
		`{"id":"e","text":"after huge","op":"nope"}`,
		`   {"id":"last","text":"no newline at end"}  `,
	}, "\n")
	var rej bytes.Buffer
	sink := NewRejectSink(&rej)
	type got struct {
		id   string
		line int64
	}
	var docs []got
	st, err := ScanJSONL(context.Background(), strings.NewReader(input), "in.jsonl", Limits{MaxDocBytes: 100}, sink, func(d Document, line int64) error {
		docs = append(docs, got{d.ID + "/" + string(d.Op), line})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{"a/upsert", 1}, {"90205027/upsert", 3}, {"b/upsert", 5}, {"c/delete", 7}, {"12345/upsert", 9}, {"last/upsert", 13}}
	if len(docs) != len(want) {
		t.Fatalf("docs = %v, want %v", docs, want)
	}
	for i := range want {
		if docs[i] != want[i] {
			t.Errorf("doc %d = %v, want %v", i, docs[i], want[i])
		}
	}
	wantRej := map[int64]string{4: "not a JSON", 6: "id: missing", 8: "text: missing", 10: "over the limit of 100", 11: "line longer than", 12: "unknown op"}
	lines := strings.Split(strings.TrimSpace(rej.String()), "\n")
	if len(lines) != len(wantRej) {
		t.Fatalf("rejects:\n%s", rej.String())
	}
	for _, l := range lines {
		var r Reject
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.File != "in.jsonl" || r.Line != r.Index || !strings.Contains(r.Error, wantRej[r.Line]) || wantRej[r.Line] == "" {
			t.Errorf("unexpected reject %+v", r)
		}
	}
	if st.Lines != 13 || st.Docs != 6 || st.Rejected != 6 || st.Bytes != int64(len(input)) || sink.Count() != 6 {
		t.Errorf("stats %+v, sink count %d", st, sink.Count())
	}
}

func TestScanJSONLCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := ScanJSONL(context.Background(), strings.NewReader("{\"id\":\"a\",\"text\":\"\"}\n{\"id\":\"b\",\"text\":\"\"}\n"), "x", Limits{}, nil,
		func(Document, int64) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 || !strings.Contains(err.Error(), "x:1: ") {
		t.Errorf("err = %v after %d docs", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScanJSONL(ctx, strings.NewReader("{}"), "x", Limits{}, nil, func(Document, int64) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}
