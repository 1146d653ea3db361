package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/queue/queuetest"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// memStore is an in-memory Store keyed like the real one.
type memStore struct {
	mu    sync.Mutex
	files map[string][]sink.Row
	keys  map[string]sink.Key
	puts  int
}

func newMemStore() *memStore {
	return &memStore{files: map[string][]sink.Row{}, keys: map[string]sink.Key{}}
}

func (s *memStore) Upload(_ context.Context, k sink.Key, rows []sink.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[k.String()] = append([]sink.Row(nil), rows...)
	s.keys[k.String()] = k
	s.puts++
	return nil
}

func (s *memStore) LastOffset(_ context.Context, model, topic string, p int) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := int64(-1), false
	for _, k := range s.keys {
		if k.Model == model && k.Topic == topic && k.Partition == p && k.Last > last {
			last, ok = k.Last, true
		}
	}
	return last, ok, nil
}

func (s *memStore) sortedKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.files {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type memDLQ struct {
	mu     sync.Mutex
	sent   []string
	values [][]byte
	fail   error // returned by Send when set
}

func (d *memDLQ) Send(_ context.Context, r queue.Record, cause error, extra map[string]string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.sent = append(d.sent, fmt.Sprintf("%d@%d:%s", r.Partition, r.Offset, extra[document.HeaderDocID]))
	d.values = append(d.values, r.Value)
	return nil
}

// fakeAnnotator labels every word that starts with an upper-case letter as
// a protein, one sentence per document: deterministic, in order, no model.
// A document containing failOn (when set) fails as if the model had panicked
// on it twice.
type fakeAnnotator struct{ failOn string }

func (f fakeAnnotator) Run(ctx context.Context, in <-chan ner.Doc, out chan<- ner.Result) error {
	defer close(out)
	for d := range in {
		r := ner.Result{Doc: d}
		if f.failOn != "" && strings.Contains(d.Text, f.failOn) {
			r.Err = fmt.Errorf("%w: injected", ner.ErrModelPanic)
			select {
			case out <- r:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		runes := []rune(d.Text)
		for i := 0; i < len(runes); {
			if unicode.IsSpace(runes[i]) {
				i++
				continue
			}
			j := i
			for j < len(runes) && !unicode.IsSpace(runes[j]) {
				j++
			}
			if unicode.IsUpper(runes[i]) {
				r.Chunks = append(r.Chunks, ner.Chunk{DocID: d.ID, ChunkIndex: len(r.Chunks), Begin: i, End: j,
					Text: string(runes[i:j]), Label: "protein", Confidence: 0.5})
			}
			r.Words++
			i = j
		}
		select {
		case out <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

var (
	sessOnce sync.Once
	sess     *model.Session
	bundle   *model.Bundle
	sessErr  error
)

// realAnnotator is the ONNX Runtime annotator on the test bundle.
func realAnnotator(t *testing.T) *ner.Annotator {
	t.Helper()
	sessOnce.Do(func() {
		bundle, sessErr = model.LoadBundle("../../testdata/tinybert")
		if sessErr == nil {
			sess, sessErr = model.NewSession(bundle, model.WithBatchSize(8), model.WithDevice(model.Device{Kind: "cpu"}))
		}
	})
	if sessErr != nil {
		t.Fatal(sessErr)
	}
	a, err := ner.New(bundle.Tokenizer, sess, bundle.Labels, ner.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var texts = []string{
	"IL-2 gene expression and NF-kappa B activation through CD28 requires reactive oxygen production by 5-lipoxygenase.",
	"Activation of the CD28 surface receptor provides a major costimulatory signal for T cell activation. The human T cell line Jurkat was used.",
	"We found that mRNA for c-fos was induced in human monocytes.",
	"",
}

// records builds n batch messages for partition p, timestamps 1s apart.
func records(t *testing.T, p, n int, t0 time.Time) []queue.Record {
	var out []queue.Record
	for i := range n {
		b := document.Batch{SchemaVersion: document.SchemaVersion, ID: fmt.Sprintf("b%d-%d", p, i),
			Source: document.Source{File: "t.jsonl", First: int64(i), Last: int64(i)}}
		for j := range 3 {
			b.Documents = append(b.Documents, document.Document{ID: fmt.Sprintf("p%d-r%d-d%d", p, i, j), Text: texts[(i+j)%len(texts)] + " Doc " + fmt.Sprint(i), Version: 1})
		}
		v, err := document.EncodeBatch(&b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, queue.Record{Topic: "docs", Partition: p, Offset: int64(i), Value: v, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	return out
}

type harness struct {
	w     *Worker
	store *memStore
	dlq   *memDLQ
	parts map[int]*queuetest.Partition
	done  chan error
}

func start(t *testing.T, store *memStore, cfg Config) *harness {
	return startWith(t, store, cfg, fakeAnnotator{})
}

func startWith(t *testing.T, store *memStore, cfg Config, ann Annotator) *harness {
	t.Helper()
	cfg.Topic, cfg.ModelName, cfg.ModelVersion, cfg.ModelDir = "docs", "tiny", "abc", "tiny-abc"
	dlq := &memDLQ{}
	w, err := New(cfg, ann, store, dlq, metrics.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{w: w, store: store, dlq: dlq, parts: map[int]*queuetest.Partition{}, done: make(chan error, 1)}
	go func() { h.done <- w.Run(context.Background()) }()
	return h
}

// part returns the fake handle of partition p.
func (h *harness) part(p int) *queuetest.Partition {
	if h.parts[p] == nil {
		h.parts[p] = queuetest.NewPartition("docs", p)
	}
	return h.parts[p]
}

// settle waits until everything delivered so far is dispatched and every
// file cut so far is uploaded.
func (h *harness) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.w.barrier(ctx); err != nil {
		t.Fatalf("pipeline did not settle: %v", err)
	}
}

func (h *harness) stop(t *testing.T) {
	h.w.Stop()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
}

// feed delivers recs from the stored start offset in chunks of size step.
func (h *harness) feed(t *testing.T, p int, recs []queue.Record, step int) {
	ctx := context.Background()
	start, err := h.w.Assigned(ctx, h.part(p), queue.NoCommit)
	if err != nil {
		t.Fatal(err)
	}
	if start == queue.UseDefault {
		start = 0
	}
	for i := int(start); i < len(recs); i += step {
		j := min(i+step, len(recs))
		if err := h.w.Records(ctx, h.part(p), recs[i:j]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFilesAreAFunctionOfTheRecords runs with the fake annotator and, end
// to end, with the ONNX Runtime annotator on the test bundle.
func TestFilesAreAFunctionOfTheRecords(t *testing.T) {
	t.Run("fake", func(t *testing.T) { testFilesAreAFunctionOfTheRecords(t, fakeAnnotator{}) })
	t.Run("onnxruntime", func(t *testing.T) { testFilesAreAFunctionOfTheRecords(t, realAnnotator(t)) })
}

func testFilesAreAFunctionOfTheRecords(t *testing.T, ann Annotator) {
	// Buckets of 10 s start at record 7, 17: cuts by count and by time mix.
	t0 := time.UnixMilli(1_700_000_000_000).Truncate(time.Minute).Add(3 * time.Second)
	recs := records(t, 0, 23, t0)
	cfg := Config{FlushRecords: 5, FlushInterval: 10 * time.Second}

	a := newMemStore()
	h := startWith(t, a, cfg, ann)
	h.feed(t, 0, recs, 1)
	h.stop(t)

	b := newMemStore()
	h = startWith(t, b, cfg, ann)
	h.feed(t, 0, recs, 7)
	h.stop(t)
	chunks := 0
	for _, rows := range a.files {
		for _, r := range rows {
			if r.ChunkIndex != sink.DocumentMarker {
				chunks++
			}
		}
	}
	if chunks == 0 {
		t.Fatal("no chunk rows written: the comparison below would prove nothing")
	}
	// Each upload is followed by a commit of the offset after the file.
	var wantCommits []int64
	for _, k := range b.sortedKeys() {
		wantCommits = append(wantCommits, b.keys[k].Last+1)
	}
	sort.Slice(wantCommits, func(i, j int) bool { return wantCommits[i] < wantCommits[j] })
	if got := h.part(0).Commits(); !reflect.DeepEqual(got, wantCommits) {
		t.Fatalf("commits %v, want %v (one after each uploaded file)", got, wantCommits)
	}

	if len(a.files) == 0 || !reflect.DeepEqual(a.sortedKeys(), b.sortedKeys()) {
		t.Fatalf("file keys differ with delivery chunking:\n%v\n%v", a.sortedKeys(), b.sortedKeys())
	}
	for k, rows := range a.files {
		if !reflect.DeepEqual(rowsNoConf(rows), rowsNoConf(b.files[k])) {
			t.Fatalf("rows of %s differ between runs", k)
		}
	}
	// Boundaries: 5 records per file, and never across a 10 s timestamp bucket.
	for _, k := range a.sortedKeys() {
		key := a.keys[k]
		if n := key.Last - key.First + 1; n > 5 {
			t.Fatalf("%s holds %d records", k, n)
		}
		if t0.Add(time.Duration(key.First)*time.Second).Unix()/10 != t0.Add(time.Duration(key.Last)*time.Second).Unix()/10 {
			t.Fatalf("%s spans two timestamp buckets", k)
		}
	}
	t.Logf("files: %v", a.sortedKeys())
}

func rowsNoConf(rows []sink.Row) []sink.Row {
	out := append([]sink.Row(nil), rows...)
	for i := range out {
		out[i].Confidence = float32(int(out[i].Confidence*1000)) / 1000
	}
	return out
}

func TestResumeFromStorageAfterCrashGivesExactlyOnce(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000).Truncate(time.Minute)
	recs := records(t, 2, 17, t0)
	cfg := Config{FlushRecords: 4, FlushInterval: time.Hour}
	ref := newMemStore()
	h := start(t, ref, cfg)
	h.feed(t, 2, recs, 3)
	h.stop(t)

	// "Crash" after 9 records: a fresh worker over the same store resumes
	// after the last uploaded file and re-reads the dropped partial file.
	st := newMemStore()
	h = start(t, st, cfg)
	h.feed(t, 2, recs[:9], 2)
	h.stop(t)
	if last, _, _ := st.LastOffset(context.Background(), "tiny-abc", "docs", 2); last != 7 {
		t.Fatalf("after the first run the store ends at %d, want 7 (two files of 4)", last)
	}
	h = start(t, st, cfg)
	h.feed(t, 2, recs, 5)
	h.stop(t)
	if !reflect.DeepEqual(ref.sortedKeys(), st.sortedKeys()) {
		t.Fatalf("keys after resume %v, want %v", st.sortedKeys(), ref.sortedKeys())
	}
	seen := map[string]int{}
	for _, rows := range st.files {
		for _, r := range rows {
			seen[fmt.Sprintf("%s/%d", r.DocID, r.ChunkIndex)]++
		}
	}
	docs := 0
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("row %s appears %d times", k, n)
		}
		if len(k) > 3 && k[len(k)-3:] == "/-1" {
			docs++
		}
	}
	// 17 records → 16 in files (the 17th is a partial file at shutdown).
	if docs != 16*3 {
		t.Fatalf("%d document markers, want %d", docs, 16*3)
	}
}

func TestIdlePartitionIsFlushedAfterItsBucket(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	recs := records(t, 1, 3, t0)
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 100, FlushInterval: time.Minute, IdleGrace: time.Second})
	h.feed(t, 1, recs, 3)
	idle := func(now time.Time) {
		h.w.now = func() time.Time { return now }
		if err := h.w.Records(context.Background(), h.part(1), nil); err != nil {
			t.Fatal(err)
		}
		h.settle(t) // the idle check and any upload it caused are done
	}
	h.part(1).SetHighWatermark(4, nil) // a record the worker has not seen yet
	idle(t0.Add(time.Hour))
	if n := len(st.sortedKeys()); n != 0 {
		t.Fatalf("file flushed although the high-water mark shows an unseen record: %v", st.sortedKeys())
	}
	h.part(1).SetHighWatermark(3, nil)
	// Idle tick with a clock just inside the bucket + grace: no flush.
	idle(t0.Add(time.Minute))
	if n := len(st.sortedKeys()); n != 0 {
		t.Fatalf("file flushed before its bucket ended + grace: %v", st.sortedKeys())
	}
	h.part(1).SetHighWatermark(0, errors.New("broker unreachable"))
	idle(t0.Add(time.Hour))
	if n := len(st.sortedKeys()); n != 0 {
		t.Fatalf("file flushed without a fresh high-water mark: %v", st.sortedKeys())
	}
	h.part(1).SetHighWatermark(3, nil)
	idle(t0.Add(time.Minute + 2*time.Second))
	h.stop(t)
	if got := st.sortedKeys(); len(got) != 1 || st.keys[got[0]].First != 0 || st.keys[got[0]].Last != 2 {
		t.Fatalf("idle flush wrote %v, want one file 0-2", got)
	}
	if got := h.part(1).Commits(); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("commits %v, want [3] after the upload", got)
	}
}

func TestPoisonGoesToDeadLetterAndIsCovered(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	recs := records(t, 0, 4, t0)
	recs[1].Value = []byte("{not json")
	// A batch with one invalid document (empty id) among good ones.
	var b map[string]any
	json.Unmarshal(recs[2].Value, &b)
	b["documents"].([]any)[1].(map[string]any)["id"] = ""
	recs[2].Value, _ = json.Marshal(b)
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 4, FlushInterval: time.Hour})
	h.feed(t, 0, recs, 4)
	h.stop(t)
	if len(h.dlq.sent) != 2 || h.dlq.sent[0] != "0@1:" {
		t.Fatalf("dead letters = %v, want the bad record and the bad document", h.dlq.sent)
	}
	keys := st.sortedKeys()
	if len(keys) != 1 || st.keys[keys[0]].Last != 3 {
		t.Fatalf("files %v: poison records must still be covered by a file", keys)
	}
	markers := 0
	for _, r := range st.files[keys[0]] {
		if r.ChunkIndex == sink.DocumentMarker {
			markers++
		}
	}
	if markers != 3+0+2+3 {
		t.Fatalf("%d documents written, want 8 (3 + 0 + 2 valid + 3)", markers)
	}
}

func TestDeleteWritesTombstone(t *testing.T) {
	b := document.Batch{SchemaVersion: document.SchemaVersion, ID: "del", Source: document.Source{File: "u.xml", First: 0, Last: 0},
		Documents: []document.Document{{ID: "123", Op: document.OpDelete}}}
	v, _ := document.EncodeBatch(&b)
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 1, FlushInterval: time.Hour})
	h.feed(t, 0, []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}}, 1)
	h.stop(t)
	rows := st.files[st.sortedKeys()[0]]
	if len(rows) != 1 || rows[0].Op != sink.OpDelete || rows[0].DocID != "123" || rows[0].ChunkIndex != sink.DocumentMarker {
		t.Fatalf("rows = %+v, want one delete tombstone", rows)
	}
}

func TestRevokedPartitionWritesNothingMore(t *testing.T) {
	recs := records(t, 0, 6, time.UnixMilli(1_700_000_000_000))
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 4, FlushInterval: time.Hour})
	h.feed(t, 0, recs[:3], 3)
	h.w.Revoked(h.part(0))
	h.w.Records(context.Background(), h.part(0), recs[3:]) // late delivery after revoke
	h.stop(t)
	if keys := st.sortedKeys(); len(keys) != 0 {
		t.Fatalf("revoked partition produced %v", keys)
	}
}

func TestOversizeDocumentIsDeadLetteredOthersAnnotated(t *testing.T) {
	b := document.Batch{SchemaVersion: document.SchemaVersion, ID: "big", Source: document.Source{File: "x.jsonl", First: 0, Last: 2},
		Documents: []document.Document{
			{ID: "ok-1", Text: texts[0]},
			{ID: "huge", Text: strings.Repeat("IL-2 gene expression in T cells. ", 200)},
			{ID: "ok-2", Text: texts[1]},
		}}
	v, err := document.EncodeBatch(&b)
	if err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 1, FlushInterval: time.Hour,
		Limits: document.Limits{MaxDocBytes: 2000, MaxBatchBytes: 1 << 20, MaxDocs: 100}})
	h.feed(t, 0, []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}}, 1)
	h.stop(t)
	if len(h.dlq.sent) != 1 || h.dlq.sent[0] != "0@0:huge" {
		t.Fatalf("dead letters = %v, want only the oversize document", h.dlq.sent)
	}
	docs := map[string]bool{}
	for _, r := range st.files[st.sortedKeys()[0]] {
		if r.ChunkIndex == sink.DocumentMarker {
			docs[r.DocID] = true
		}
	}
	if !docs["ok-1"] || !docs["ok-2"] || docs["huge"] {
		t.Fatalf("documents written: %v, want ok-1 and ok-2 only", docs)
	}
}

// seqAnnotator is fakeAnnotator recording the order of the documents it
// receives ("" for a marker).
type seqAnnotator struct {
	fakeAnnotator
	gate  chan struct{} // when set, nothing is read before it is closed
	steps chan struct{} // when set, each read waits for a value (or the close)
	mu    sync.Mutex
	ids   []string
}

// received returns how many documents and markers were read so far.
func (a *seqAnnotator) received() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

func (a *seqAnnotator) Run(ctx context.Context, in <-chan ner.Doc, out chan<- ner.Result) error {
	mid := make(chan ner.Doc)
	go func() {
		defer close(mid)
		if a.gate != nil {
			<-a.gate
		}
		for {
			if a.steps != nil {
				<-a.steps
			}
			d, ok := <-in
			if !ok {
				return
			}
			a.mu.Lock()
			a.ids = append(a.ids, d.ID)
			a.mu.Unlock()
			mid <- d
		}
	}()
	return a.fakeAnnotator.Run(ctx, mid, out)
}

// TestConcurrentPartitionsKeepRecordsContiguous: records of several
// partitions delivered at the same time reach the annotator whole — a
// record's documents and its end marker with nothing in between — so that
// record packing never groups documents of different records; and the
// files are those of each partition alone.
func TestConcurrentPartitionsKeepRecordsContiguous(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000).Truncate(time.Minute)
	cfg := Config{FlushRecords: 5, FlushInterval: time.Hour}
	const parts, perPart = 3, 60 // 720 entries: more than the input buffer, so senders block and interleave
	recs := map[int][]queue.Record{}
	for p := range parts {
		recs[p] = records(t, p, perPart, t0)
	}
	alone := newMemStore()
	for p := range parts {
		h := start(t, alone, cfg)
		h.feed(t, p, recs[p], 1)
		h.stop(t)
	}
	together := newMemStore()
	ann := &seqAnnotator{}
	h := startWith(t, together, cfg, ann)
	var wg sync.WaitGroup
	for p := range parts {
		part := h.part(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if _, err := h.w.Assigned(ctx, part, queue.NoCommit); err != nil {
				t.Error(err)
				return
			}
			for _, r := range recs[p] {
				if err := h.w.Records(ctx, part, []queue.Record{r}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	h.stop(t)
	// Between two markers, every document belongs to one record ("p<P>-r<R>-").
	group, records := "", 0
	for _, id := range ann.ids {
		if id == "" {
			group = ""
			records++
			continue
		}
		rec := id[:strings.LastIndex(id, "-")]
		if group != "" && rec != group {
			t.Fatalf("document %s arrived inside record %s's group", id, group)
		}
		group = rec
	}
	if records != parts*perPart {
		t.Fatalf("%d record markers, want %d", records, parts*perPart)
	}
	if len(alone.files) == 0 || !reflect.DeepEqual(alone.sortedKeys(), together.sortedKeys()) {
		t.Fatalf("files alone %v, together %v", alone.sortedKeys(), together.sortedKeys())
	}
	for k, rows := range alone.files {
		if !reflect.DeepEqual(rows, together.files[k]) {
			t.Fatalf("rows of %s differ when partitions are delivered concurrently", k)
		}
	}
}

// TestDeadLetterCarriesTheDocument: the dead letter of one invalid document
// is that document, not its whole batch.
func TestDeadLetterCarriesTheDocument(t *testing.T) {
	recs := records(t, 0, 1, time.UnixMilli(1_700_000_000_000))
	var b map[string]any
	json.Unmarshal(recs[0].Value, &b)
	b["documents"].([]any)[1].(map[string]any)["id"] = ""
	recs[0].Value, _ = json.Marshal(b)
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 1, FlushInterval: time.Hour})
	h.feed(t, 0, recs, 1)
	h.stop(t)
	if len(h.dlq.values) != 1 {
		t.Fatalf("dead letters %v", h.dlq.sent)
	}
	var doc map[string]any
	if err := json.Unmarshal(h.dlq.values[0], &doc); err != nil || doc["id"] != "" || doc["text"] == nil || doc["documents"] != nil {
		t.Fatalf("dead letter value %s is not the one document (%v)", h.dlq.values[0], err)
	}
}

// TestUnwritableDeadLetterStopsBeforeTheRecord: when a dead letter cannot
// be written, Records fails and no file covers the poison record or anything
// after it, so nothing past it is committed; the records before it are kept.
func TestUnwritableDeadLetterStopsBeforeTheRecord(t *testing.T) {
	recs := records(t, 0, 6, time.UnixMilli(1_700_000_000_000))
	recs[4].Value = []byte("{not json")
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 2, FlushInterval: time.Hour})
	h.dlq.fail = errors.New("message too large")
	ctx := context.Background()
	if _, err := h.w.Assigned(ctx, h.part(0), queue.NoCommit); err != nil {
		t.Fatal(err)
	}
	err := h.w.Records(ctx, h.part(0), recs)
	if !errors.Is(err, ErrDeadLetterFailed) || !strings.Contains(err.Error(), "offset 4") {
		t.Fatalf("Records = %v, want the dead-letter failure", err)
	}
	h.stop(t)
	for _, k := range st.sortedKeys() {
		if st.keys[k].Last >= 4 {
			t.Fatalf("file %s covers the record whose dead letter was lost", k)
		}
	}
	if got := h.part(0).Commits(); !reflect.DeepEqual(got, []int64{2, 4}) {
		t.Fatalf("commits %v, want [2 4]: the files before the poison record only", got)
	}
}

// TestRevokedMidRecordEndsItsGroup: a record whose delivery is cut short by
// a revocation is closed with a marker right away, so its documents never
// share a packing group with the next record, and none of its rows reach a
// file.
func TestRevokedMidRecordEndsItsGroup(t *testing.T) {
	const docs = 700 // more than the pipeline buffers: the send blocks inside the record
	b := document.Batch{SchemaVersion: document.SchemaVersion, ID: "huge", Source: document.Source{File: "f", First: 0, Last: docs - 1}}
	for i := range docs {
		b.Documents = append(b.Documents, document.Document{ID: fmt.Sprintf("p0-r0-d%d", i), Text: "IL-2 in T cells."})
	}
	v, err := document.EncodeBatch(&b)
	if err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	ann := &seqAnnotator{gate: make(chan struct{})}
	cfg := Config{FlushRecords: 1, FlushInterval: time.Hour, Limits: document.Limits{MaxDocBytes: 1 << 20, MaxBatchBytes: 8 << 20, MaxDocs: docs}}
	h := startWith(t, st, cfg, ann)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := h.w.Assigned(ctx, h.part(0), queue.NoCommit); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- h.w.Records(ctx, h.part(0), []queue.Record{{Topic: "docs", Offset: 0, Value: v, Time: time.Now()}})
	}()
	// Wait until the send blocks: the input buffer is full.
	deadline := time.Now().Add(10 * time.Second)
	for len(h.w.in) < cap(h.w.in) {
		if time.Now().After(deadline) {
			t.Fatal("the record's delivery never filled the input buffer")
		}
		time.Sleep(time.Millisecond)
	}
	cancel() // revoked in the middle of the record
	close(ann.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.w.Revoked(h.part(0))
	h.feed(t, 1, records(t, 1, 2, time.Now()), 1)
	h.stop(t)
	// Between the revoked record's last document and the next record's
	// first there must be a marker (the abort), and the record must not go
	// on after it.
	partial, open, aborted := 0, false, false
	for _, id := range ann.ids {
		switch {
		case id == "":
			if open {
				aborted = true
			}
			open = false
		case strings.HasPrefix(id, "p0-"):
			if aborted {
				t.Fatalf("the revoked record went on after its abort marker: %s", id)
			}
			partial++
			open = true
		case open:
			t.Fatalf("document %s joined the revoked record's group (no marker after its %d documents)", id, partial)
		}
	}
	if !aborted || partial == 0 || partial == docs {
		t.Fatalf("%d of %d documents delivered, aborted %v: the revocation did not land inside the record", partial, docs, aborted)
	}
	for k := range st.files {
		if st.keys[k].Partition == 0 {
			t.Fatalf("the revoked record reached file %s", k)
		}
	}
	if len(st.files) != 2 {
		t.Fatalf("files %v, want partition 1's two", st.sortedKeys())
	}
}

// TestRevokedPartitionStopsAnnotatingItsQueuedDocuments: documents queued
// for a partition that is then revoked are not annotated (the rebalance
// probe saw 838 documents annotated for 32 s after a revocation). With the
// pipeline full — the worker's input buffer and the annotator's input
// waiting — only the one document already being handed to the annotator
// is annotated after Revoked; the other partition goes on unaffected.
func TestRevokedPartitionStopsAnnotatingItsQueuedDocuments(t *testing.T) {
	st := newMemStore()
	ann := &seqAnnotator{steps: make(chan struct{})}
	h := startWith(t, st, Config{FlushRecords: 1, FlushInterval: time.Hour}, ann)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := h.w.Assigned(ctx, h.part(0), queue.NoCommit); err != nil {
		t.Fatal(err)
	}
	recs := records(t, 0, 400, time.Now()) // 1,200 documents: more than every buffer
	done := make(chan error, 1)
	go func() { done <- h.w.Records(ctx, h.part(0), recs) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.w.in) < cap(h.w.in) {
		if time.Now().After(deadline) {
			t.Fatal("the records never filled the input buffer")
		}
		time.Sleep(time.Millisecond)
	}
	// The queue ends the partition's Records call, then revokes. Records
	// closes its cut record with a marker, which needs room in the input:
	// let the annotator read one entry at a time until Records returns.
	cancel()
	for returned := false; !returned; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			returned = true
		case ann.steps <- struct{}{}:
		}
	}
	h.w.Revoked(h.part(0))
	queued, before := len(h.w.in), ann.received()
	close(ann.steps) // the annotator reads freely from here on
	h.feed(t, 1, records(t, 1, 2, time.Now()), 1)
	h.stop(t)
	annotated := 0
	for _, id := range ann.ids[before:] {
		if strings.HasPrefix(id, "p0-") {
			annotated++
		}
	}
	if queued < 200 || annotated > 1 {
		t.Fatalf("%d documents of the revoked partition annotated after Revoked with %d entries queued, want at most 1", annotated, queued)
	}
	for k := range st.files {
		if st.keys[k].Partition == 0 {
			t.Fatalf("the revoked partition reached file %s", k)
		}
	}
	if len(st.files) != 2 {
		t.Fatalf("files %v, want partition 1's two", st.sortedKeys())
	}
}

// Records whose timestamps are in a future bucket (producer clock ahead) are
// held at the partition's end — closing them by this worker's clock could cut
// the file at a different offset than another owner — but the hold is
// visible (nerstream_held_records) and ends with the next record.
func TestFutureTimestampedRecordsAreHeldVisiblyUntilTheNextRecord(t *testing.T) {
	now := time.Now().Truncate(time.Minute)
	future := records(t, 2, 3, now.Add(365*24*time.Hour))
	st := newMemStore()
	h := start(t, st, Config{FlushRecords: 100, FlushInterval: time.Minute, IdleGrace: time.Second})
	h.feed(t, 2, future, 3)
	h.w.now = func() time.Time { return now.Add(5 * time.Minute) }
	h.part(2).SetHighWatermark(3, nil)
	held := func() float64 { return testutil.ToFloat64(h.w.m.HeldRecords.WithLabelValues("2")) }
	if err := h.w.Records(context.Background(), h.part(2), nil); err != nil {
		t.Fatal(err)
	}
	h.settle(t)
	if n := len(st.sortedKeys()); n != 0 || held() != 3 {
		t.Fatalf("files %v, held %v: want nothing written and 3 records reported held", st.sortedKeys(), held())
	}
	// The next record (a sane clock: another bucket) closes the held file.
	next := records(t, 2, 4, now)[3]
	if err := h.w.Records(context.Background(), h.part(2), []queue.Record{next}); err != nil {
		t.Fatal(err)
	}
	h.settle(t)
	if got := st.sortedKeys(); len(got) != 1 || st.keys[got[0]].First != 0 || st.keys[got[0]].Last != 2 || held() != 0 {
		t.Fatalf("files %v, held %v: want the held file 0-2 written and the gauge back to 0", got, held())
	}
	h.stop(t)
}
