package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/queue/queuetest"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// limitDLQ accepts values up to max bytes (0: none at all), like a broker
// with a message size limit.
type limitDLQ struct {
	mu   sync.Mutex
	max  int
	sent []queue.Record
	hdr  []map[string]string
}

func (d *limitDLQ) Send(_ context.Context, r queue.Record, _ error, extra map[string]string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(r.Value) > d.max {
		return fmt.Errorf("MESSAGE_TOO_LARGE: %d bytes", len(r.Value))
	}
	d.sent = append(d.sent, r)
	d.hdr = append(d.hdr, extra)
	return nil
}

// dlPart0 is partition 0's handle in the dead-letter tests.
var dlPart0 = queuetest.NewPartition("docs", 0)

func startDL(t *testing.T, store *memStore, dlq DeadLetterer, m *metrics.Metrics, cfg Config) (*Worker, chan error) {
	return startDLWith(t, store, dlq, m, cfg, fakeAnnotator{})
}

func startDLWith(t *testing.T, store *memStore, dlq DeadLetterer, m *metrics.Metrics, cfg Config, ann Annotator) (*Worker, chan error) {
	t.Helper()
	cfg.Topic, cfg.ModelName, cfg.ModelVersion, cfg.ModelDir = "docs", "tiny", "abc", "tiny-abc"
	w, err := New(cfg, ann, store, dlq, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	if _, err := w.Assigned(context.Background(), dlPart0, queue.NoCommit); err != nil {
		t.Fatal(err)
	}
	return w, done
}

func storedDocs(st *memStore) map[string]bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	docs := map[string]bool{}
	for _, rows := range st.files {
		for _, r := range rows {
			if r.ChunkIndex == sink.DocumentMarker {
				docs[r.DocID] = true
			}
		}
	}
	return docs
}

func bigBatch(t *testing.T, n, invalidEvery int, docBytes int) []byte {
	t.Helper()
	b := document.Batch{SchemaVersion: document.SchemaVersion, ID: "b", Source: document.Source{File: "x.jsonl", First: 0, Last: int64(n - 1)}}
	for i := range n {
		text := texts[i%3]
		if invalidEvery > 0 && i%invalidEvery == 0 {
			text = strings.Repeat("a ", docBytes/2) // over MaxDocBytes
		}
		b.Documents = append(b.Documents, document.Document{ID: fmt.Sprintf("d%02d", i), Text: text})
	}
	v, err := document.EncodeBatch(&b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Each rejected document is dead-lettered alone (its own JSON), so dead
// letters fit the topic's limit even when the batch does not.
func TestRejectedDocumentsAreDeadLetteredOneByOne(t *testing.T) {
	const docLimit = 3000
	v := bigBatch(t, 12, 3, 4000) // d00, d03, d06, d09 too large
	dlq := &limitDLQ{max: 8000}   // one document fits, the batch (~20 KB) does not
	st, m := newMemStore(), metrics.New()
	w, done := startDL(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour,
		Limits: document.Limits{MaxDocBytes: docLimit, MaxBatchBytes: 1 << 20, MaxDocs: 100}})
	if err := w.Records(context.Background(), dlPart0, []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}}); err != nil {
		t.Fatalf("Records: %v", err)
	}
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(dlq.sent) != 4 {
		t.Fatalf("%d dead letters written, want 4 (one per invalid document)", len(dlq.sent))
	}
	for i, r := range dlq.sent {
		var d document.Document
		if err := json.Unmarshal(r.Value, &d); err != nil || d.ID != fmt.Sprintf("d%02d", 3*i) || dlq.hdr[i][document.HeaderDocID] != d.ID {
			t.Fatalf("dead letter %d = %.60q (%v), want document d%02d alone", i, r.Value, err, 3*i)
		}
	}
	if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues("invalid_document")); got != 4 {
		t.Fatalf("dead_letters_total = %v, want 4", got)
	}
	docs := storedDocs(st)
	if len(docs) != 8 || docs["d00"] {
		t.Fatalf("stored %v, want the 8 valid documents", docs)
	}
}

// A dead letter that cannot be written stops the partition: Records fails,
// and no file covers the record (so nothing past it is committed).
func TestUnwritableDeadLetterStopsThePartition(t *testing.T) {
	recs := records(t, 0, 4, time.UnixMilli(1_700_000_000_000))
	recs[2].Value = []byte("{not json")
	dlq := &limitDLQ{max: -1} // every write fails
	st, m := newMemStore(), metrics.New()
	w, done := startDL(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour})
	err := w.Records(context.Background(), dlPart0, recs)
	if !errors.Is(err, ErrDeadLetterFailed) || !strings.Contains(err.Error(), "offset 2") {
		t.Fatalf("Records = %v, want ErrDeadLetterFailed at offset 2", err)
	}
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last, ok, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 0)
	if !ok || last != 1 {
		t.Fatalf("stored up to offset %d (%v), want 1: nothing at or past the failed dead letter", last, ok)
	}
	if testutil.ToFloat64(m.DeadLetterFailures) != 1 || testutil.ToFloat64(m.DeadLetters.WithLabelValues("malformed_batch")) != 0 {
		t.Fatalf("failures = %v, dead letters = %v; want 1 and 0", testutil.ToFloat64(m.DeadLetterFailures),
			testutil.ToFloat64(m.DeadLetters.WithLabelValues("malformed_batch")))
	}
}

// A batch over the worker's batch limit (the producer's limits were larger)
// is split into one dead letter per document: none is lost.
func TestOversizeBatchIsSplitIntoDocumentDeadLetters(t *testing.T) {
	v := bigBatch(t, 20, 0, 0)
	dlq := &limitDLQ{max: 1000}
	st, m := newMemStore(), metrics.New()
	w, done := startDL(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour,
		Limits: document.Limits{MaxDocBytes: 1000, MaxBatchBytes: len(v) - 1, MaxDocs: 100}})
	if err := w.Records(context.Background(), dlPart0, []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}}); err != nil {
		t.Fatalf("Records: %v", err)
	}
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range dlq.sent {
		var d document.Document
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		ids[d.ID] = true
	}
	if len(ids) != 20 || testutil.ToFloat64(m.DeadLetters.WithLabelValues("batch_too_large")) != 20 {
		t.Fatalf("dead-lettered %d distinct documents, want all 20", len(ids))
	}
	if last, ok, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 0); !ok || last != 0 {
		t.Fatal("the split record must be covered by a file")
	}
}

// batchRecord encodes one record of documents with the given texts (ids
// <prefix>0, <prefix>1, ...).
func batchRecord(t *testing.T, offset int64, prefix string, texts ...string) queue.Record {
	t.Helper()
	b := document.Batch{SchemaVersion: document.SchemaVersion, ID: prefix, Source: document.Source{File: "t.jsonl", First: offset, Last: offset}}
	for i, tx := range texts {
		b.Documents = append(b.Documents, document.Document{ID: fmt.Sprintf("%s%d", prefix, i), Text: tx})
	}
	v, err := document.EncodeBatch(&b)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Record{Topic: "docs", Offset: offset, Value: v, Time: time.UnixMilli(1_700_000_000_000 + offset)}
}

// A document the model fails on (it panicked twice on its batch) is
// dead-lettered alone with reason model_failure; its record-mates are stored
// and the partition goes on. When that dead letter cannot be written, the
// worker stops without storing (or committing) its record.
func TestModelFailureDeadLettersTheDocument(t *testing.T) {
	recs := []queue.Record{
		batchRecord(t, 0, "x", "Alpha one.", "Beta two.", "Gamma three."),
		batchRecord(t, 1, "y", "Delta four.", "PANIC Epsilon five.", "Zeta six."),
	}
	ann := fakeAnnotator{failOn: "PANIC"}
	t.Run("dead-lettered", func(t *testing.T) {
		dlq := &limitDLQ{max: 1 << 20}
		st, m := newMemStore(), metrics.New()
		w, done := startDLWith(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour}, ann)
		if err := w.Records(context.Background(), dlPart0, recs); err != nil {
			t.Fatalf("Records: %v", err)
		}
		w.Stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(dlq.sent) != 1 || dlq.hdr[0][document.HeaderDocID] != "y1" || dlq.sent[0].Offset != 1 || dlq.hdr[0][document.HeaderDocIndex] != "1" {
			t.Fatalf("dead letters %v %v, want document y1 of offset 1", dlq.sent, dlq.hdr)
		}
		var d document.Document
		if err := json.Unmarshal(dlq.sent[0].Value, &d); err != nil || d.Text != "PANIC Epsilon five." {
			t.Fatalf("dead letter value %q (%v), want the document itself", dlq.sent[0].Value, err)
		}
		if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues("model_failure")); got != 1 {
			t.Fatalf("dead_letters_total{reason=model_failure} = %v, want 1", got)
		}
		docs := storedDocs(st)
		if len(docs) != 5 || docs["y1"] || !docs["y0"] || !docs["y2"] {
			t.Fatalf("stored %v, want the 5 other documents", docs)
		}
		if last, ok, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 0); !ok || last != 1 {
			t.Fatalf("stored up to %d (%v), want 1: the partition goes on", last, ok)
		}
	})
	t.Run("dead letter not written", func(t *testing.T) {
		dlq := &limitDLQ{max: -1}
		st, m := newMemStore(), metrics.New()
		w, done := startDLWith(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour}, ann)
		_ = w.Records(context.Background(), dlPart0, recs) // may return early once the worker fails
		err := <-done
		if !errors.Is(err, ErrDeadLetterFailed) {
			t.Fatalf("Run = %v, want ErrDeadLetterFailed", err)
		}
		w.Stop()
		if last, ok, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 0); ok && last != 0 {
			t.Fatalf("stored up to %d, want 0: nothing at or past the record whose dead letter failed", last)
		}
		if testutil.ToFloat64(m.DeadLetterFailures) != 1 {
			t.Fatalf("dead-letter failures = %v, want 1", testutil.ToFloat64(m.DeadLetterFailures))
		}
	})
}

// A record far over --max-batch-bytes is split without ever being decoded
// whole: each document within its bound is dead-lettered (batch_too_large),
// an invalid one as invalid_document, and one far over its own bound by id
// with a bounded excerpt (document_too_large). Allocation during the split
// stays a small fraction of the record.
func TestFarOversizeRecordIsSplitWithoutDecodingItWhole(t *testing.T) {
	huge := strings.Repeat("x", 64<<20)
	v := []byte(`{"schema_version":1,"id":"big","source":{"file":"f.jsonl","first":0,"last":3},"documents":[` +
		`{"id":"a","text":"Alpha one."},{"id":"huge","text":"` + huge + `"},{"id":"bad","text":7},{"id":"c","text":"Gamma."}]}`)
	lim := document.Limits{MaxDocBytes: 1000, MaxBatchBytes: 10_000, MaxDocs: 100}
	dlq := &limitDLQ{max: 1 << 20}
	st, m := newMemStore(), metrics.New()
	w, done := startDL(t, st, dlq, m, Config{FlushRecords: 1, FlushInterval: time.Hour, Limits: lim})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := w.Records(context.Background(), dlPart0, []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}}); err != nil {
		t.Fatalf("Records: %v", err)
	}
	runtime.ReadMemStats(&after)
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(v)/8) {
		t.Errorf("split allocated %d bytes for a %d-byte record; want it never decoded whole", alloc, len(v))
	}
	want := map[string]string{"a": "batch_too_large", "huge": "document_too_large", "bad": "invalid_document", "c": "batch_too_large"}
	if len(dlq.sent) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(dlq.sent), len(want))
	}
	for i, h := range dlq.hdr {
		id := h[document.HeaderDocID]
		if _, ok := want[id]; !ok || h[document.HeaderDocIndex] != fmt.Sprint(i) || h[document.HeaderBatchID] != "big" {
			t.Errorf("dead letter %d: headers %v", i, h)
		}
		if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues(want[id])); got < 1 {
			t.Errorf("document %s: no %s dead letter", id, want[id])
		}
		if id == "huge" && (len(dlq.sent[i].Value) > maxExcerpt || !strings.HasPrefix(string(dlq.sent[i].Value), `{"id":"huge"`)) {
			t.Errorf("huge document's dead letter is %d bytes, want an excerpt of at most %d", len(dlq.sent[i].Value), maxExcerpt)
		}
	}
	if last, ok, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 0); !ok || last != 0 {
		t.Fatal("the split record must be covered by a file")
	}
}
