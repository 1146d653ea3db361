package redrive

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/producer/ingest"
)

type sent struct {
	topic string
	batch *document.Batch
}

type recorder struct {
	topic string
	out   *[]sent
}

func (p recorder) Publish(_ context.Context, msgs ...queue.Message) error {
	for _, m := range msgs {
		b, err := document.DecodeBatch(m.Value, document.DefaultLimits())
		if err != nil {
			return err
		}
		*p.out = append(*p.out, sent{p.topic, b})
	}
	return nil
}

func deadLetter(off int64, reason document.DeadLetterReason, kind, value string, extra ...string) queue.Record {
	h := map[string]string{queue.HeaderSourceTopic: "docs", document.HeaderDeadLetterKind: kind}
	if reason != "" {
		h[document.HeaderDeadLetterReason] = string(reason)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return queue.Record{Topic: "docs.dlq", Offset: off, Value: []byte(value), Headers: h}
}

const doc = `{"id":"%s","text":"IL-2 binds.","version":1}`

func docJSON(id string) string { return strings.Replace(doc, "%s", id, 1) }

// dlq is one dead letter of every kind.
var dlq = []queue.Record{
	deadLetter(0, document.ReasonBatchTooLarge, "document", docJSON("a")),
	deadLetter(1, document.ReasonModelFailure, "document", docJSON("b")),
	deadLetter(2, document.ReasonInvalidDocument, "document", `{"id":"c","text":"x","op":"bogus"}`),
	deadLetter(3, document.ReasonDocumentTooLarge, "document", `{"id":"d","text":"xxxx`, document.HeaderDocID, "d"),
	deadLetter(4, document.ReasonMalformedBatch, "record", `{"schema_version":1,"id":"x","source":{"file":"f","first":0,"last":1},"documents":[`+docJSON("e")+`,`+docJSON("f")+`]}`),
	deadLetter(5, document.ReasonMalformedBatch, "record", `not json`),
	deadLetter(6, document.ReasonBatchTooLarge, "document", docJSON("a")), // at-least-once repeat
	deadLetter(7, document.ReasonModelFailure, "document", docJSON("g"), queue.HeaderTruncated, "99"),
	deadLetter(8, "", "document", docJSON("h")),
	deadLetter(9, document.ReasonModelFailure, "document", docJSON("i"), queue.HeaderSourceTopic, "docs.dlq"),
}

func readAll(recs []queue.Record) ReadFunc {
	return func(_ context.Context, fn func(queue.Record) error) (map[int]int64, error) {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return nil, err
			}
		}
		return map[int]int64{0: int64(len(recs))}, nil
	}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reasons []document.DeadLetterReason
		want    []string // redriven ids
		skipped map[string]int
		done    int // dead letters in the manifest after the run
	}{
		{"all", nil, []string{"a", "b", "e", "f", "h"}, map[string]int{SkipInvalid: 1, SkipExcerptOnly: 1, SkipMalformed: 1,
			SkipDuplicate: 1, SkipTruncated: 1, SkipTargetIsDLQ: 1}, 5},
		{"batch_too_large", []document.DeadLetterReason{document.ReasonBatchTooLarge}, []string{"a"},
			map[string]int{SkipNotSelected: 8, SkipDuplicate: 1}, 2},
		{"malformed_batch,model_failure", []document.DeadLetterReason{document.ReasonMalformedBatch, document.ReasonModelFailure},
			[]string{"b", "e", "f"}, map[string]int{SkipNotSelected: 5, SkipMalformed: 1, SkipTruncated: 1, SkipTargetIsDLQ: 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out []sent
			pubs := func(_ context.Context, topic string) (ingest.Publisher, error) { return recorder{topic, &out}, nil }
			m := NewManifest(ingest.FileStore(filepath.Join(t.TempDir(), "m.json")))
			o := Options{From: "docs.dlq", Reasons: tc.reasons, Limits: document.Limits{MaxDocs: 2, MaxBatchBytes: 1 << 20, MaxDocBytes: 1 << 10},
				Manifest: m, MaxIDs: 10, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rep, err := Run(context.Background(), readAll(dlq), pubs, o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range out {
				if s.topic != "docs" || len(s.batch.Documents) > 2 {
					t.Errorf("batch %s: topic %s, %d documents", s.batch.ID, s.topic, len(s.batch.Documents))
				}
				for _, d := range s.batch.Documents {
					got = append(got, d.ID)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || rep.Redriven.Count != len(tc.want) {
				t.Errorf("redriven %v (report %d), want %v", got, rep.Redriven.Count, tc.want)
			}
			for why, n := range tc.skipped {
				if rep.Skipped[why] == nil || rep.Skipped[why].Count != n {
					t.Errorf("skipped %s: %+v, want %d", why, rep.Skipped[why], n)
				}
			}
			if len(rep.Skipped) != len(tc.skipped) {
				t.Errorf("skip causes %v, want %v", keys(rep.Skipped), tc.skipped)
			}
			// A second run, with the manifest reloaded, publishes nothing.
			m2, err := LoadManifest(context.Background(), ingest.FileStore(filepath.Join(filepath.Dir(string(m.store.(ingest.FileStore))), "m.json")))
			if err != nil {
				t.Fatal(err)
			}
			out = nil
			o.Manifest = m2
			rep2, err := Run(context.Background(), readAll(dlq), pubs, o)
			if err != nil || len(out) != 0 || rep2.Redriven.Count != 0 {
				t.Fatalf("second run: %d batches, report %+v, %v", len(out), rep2.Redriven, err)
			}
			if n := rep2.Skipped[SkipAlreadyRedriven]; n == nil || n.Count != tc.done {
				t.Errorf("second run: already redriven %+v, want %d dead letters", n, tc.done)
			}
		})
	}
}

func keys(m map[string]*Tally) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRunRefuses(t *testing.T) {
	lim := document.DefaultLimits()
	for _, o := range []Options{{From: ""}, {From: "docs.dlq", To: "docs.dlq", Limits: lim}, {From: "docs.dlq"}} {
		if _, err := Run(context.Background(), readAll(nil), nil, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestParseReasons(t *testing.T) {
	got, err := document.ParseDeadLetterReasons("model_failure, batch_too_large,model_failure")
	if err != nil || !slices.Equal(got, []document.DeadLetterReason{document.ReasonModelFailure, document.ReasonBatchTooLarge}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := document.ParseDeadLetterReasons("model_failure,oops"); err == nil || !strings.Contains(err.Error(), `"oops"`) {
		t.Fatalf("unknown reason: %v", err)
	}
}

// TestLoadManifestRefusesIngestManifest: the producer's ingest manifest is
// not taken for a redrive manifest (and then overwritten).
func TestLoadManifestRefusesIngestManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ingest.json")
	im := ingest.NewManifest(ingest.FileStore(path))
	if err := im.Put(context.Background(), ingest.FileEntry{Name: "f.jsonl"}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifest(context.Background(), ingest.FileStore(path)); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("ingest manifest loaded as a redrive manifest: %v", err)
	}
}
