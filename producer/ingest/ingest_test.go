package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
)

const (
	baseline = "../../testdata/pubmed/pubmed26n0001.xml.gz"
	update   = "../../testdata/pubmed/pubmed26n1300.xml.gz"
	sample   = "../../testdata/docs/sample.jsonl"
)

// fakePublisher records published messages; it can fail after a number of
// successful calls, optionally after "writing" the messages (a lost ack).
type fakePublisher struct {
	mu        sync.Mutex
	msgs      []queue.Message
	calls     int
	failAfter int // fail every call after this many successful ones (0: never)
	lostAck   bool
}

var errBroker = errors.New("broker unavailable")

func (f *fakePublisher) Publish(_ context.Context, msgs ...queue.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAfter > 0 && f.calls >= f.failAfter {
		if f.lostAck {
			f.msgs = append(f.msgs, msgs...)
		}
		return errBroker
	}
	f.calls++
	f.msgs = append(f.msgs, msgs...)
	return nil
}

func (f *fakePublisher) batches(t *testing.T) []*document.Batch {
	t.Helper()
	var out []*document.Batch
	for _, m := range f.msgs {
		b, err := document.DecodeBatch(m.Value, document.DefaultLimits())
		if err != nil {
			t.Fatalf("published message does not decode: %v", err)
		}
		if string(m.Key) != b.ID || m.Headers[document.HeaderBatchID] != b.ID || m.Headers[document.HeaderSourceFile] != b.Source.File ||
			m.Headers[document.HeaderSourceRange] != fmt.Sprintf("%d-%d", b.Source.First, b.Source.Last) || m.Headers[document.HeaderDocs] != fmt.Sprint(len(b.Documents)) {
			t.Errorf("message key/headers %q %v do not match batch %s %+v", m.Key, m.Headers, b.ID, b.Source)
		}
		out = append(out, b)
	}
	return out
}

func docIDs(bs []*document.Batch) []string {
	var ids []string
	for _, b := range bs {
		for _, d := range b.Documents {
			ids = append(ids, d.ID+"/"+string(d.Op))
		}
	}
	return ids
}

func batchIDs(bs []*document.Batch) []string {
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRunPubMed(t *testing.T) {
	pub := &fakePublisher{}
	var rej bytes.Buffer
	sum, err := Run(context.Background(), pub, FormatPubMed, []string{baseline, update},
		WithRejects(document.NewRejectSink(&rej)), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	bs := pub.batches(t)
	// 200 baseline docs in batches of 64 → 4; update: 3 revisions + 3 deletes → 1.
	if len(bs) != 5 || sum.Batches != 5 || sum.Docs != 206 || sum.Published != 2 || rej.Len() != 0 {
		t.Fatalf("summary %+v, %d batches, rejects %s", sum, len(bs), rej.String())
	}
	if n := len(bs[0].Documents); n != document.DefaultBatchDocs {
		t.Errorf("first batch has %d docs", n)
	}
	if bs[0].Source != (document.Source{File: "pubmed26n0001.xml.gz", First: 0, Last: 63}) {
		t.Errorf("first batch source %+v", bs[0].Source)
	}
	last := bs[4]
	ops := docIDs([]*document.Batch{last})
	if !slices.Equal(ops[3:], []string{"93180775/delete", "99243471/delete", "99999999/delete"}) || last.Documents[0].Version != 2 {
		t.Errorf("update batch %v", ops)
	}
	if sum.Bytes == 0 {
		t.Error("no bytes counted")
	}
}

func TestRunBatchBounds(t *testing.T) {
	pub := &fakePublisher{}
	const maxBytes = 12000
	if _, err := Run(context.Background(), pub, FormatPubMed, []string{baseline}, WithBatchDocs(10), WithBatchBytes(maxBytes), WithInflight(3), WithLogger(quiet())); err != nil {
		t.Fatal(err)
	}
	bs := pub.batches(t)
	total, byBytes := 0, 0
	for i, m := range pub.msgs {
		if len(m.Value) > maxBytes || len(bs[i].Documents) > 10 {
			t.Errorf("batch %d: %d bytes, %d docs", i, len(m.Value), len(bs[i].Documents))
		}
		if len(bs[i].Documents) < 10 {
			byBytes++
		}
		total += len(bs[i].Documents)
	}
	if total != 200 || byBytes < 2 {
		t.Errorf("%d docs, %d batches cut by bytes", total, byBytes)
	}
	if pub.calls != (len(bs)+2)/3 {
		t.Errorf("%d publish calls for %d batches with inflight 3", pub.calls, len(bs))
	}
}

func TestManifestSkipsPublishedFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	copyFile(t, baseline, in)
	store := FileStore(filepath.Join(dir, "manifest.json"))
	run := func(pub *fakePublisher, opts ...Option) (Summary, error) {
		m, err := LoadManifest(context.Background(), store)
		if err != nil {
			t.Fatal(err)
		}
		files, _, err := Inputs(FormatPubMed, []string{in})
		if err != nil {
			t.Fatal(err)
		}
		return Run(context.Background(), pub, FormatPubMed, files, append(opts, WithManifest(m), WithLogger(quiet()), WithTopic("pubmed"))...)
	}
	first := &fakePublisher{}
	if _, err := run(first); err != nil {
		t.Fatal(err)
	}
	// A nightly rerun with one new file publishes only the new file.
	copyFile(t, update, in)
	second := &fakePublisher{}
	sum, err := run(second)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || sum.Published != 1 || len(second.msgs) != 1 || second.batches(t)[0].Source.File != "pubmed26n1300.xml.gz" {
		t.Errorf("rerun: %+v, %d messages", sum, len(second.msgs))
	}
	// Nothing new: nothing published, and verify mode hashes but still skips.
	third := &fakePublisher{}
	if sum, err := run(third, WithVerify(true)); err != nil || len(third.msgs) != 0 || sum.Skipped != 2 {
		t.Errorf("third run: %+v %v, %d messages", sum, err, len(third.msgs))
	}
	data, _ := os.ReadFile(string(store))
	var mj manifestJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		t.Fatal(err)
	}
	if len(mj.Files) != 2 || mj.Version != ManifestVersion {
		t.Fatalf("manifest %s", data)
	}
	e := mj.Files[0]
	if e.Name != "pubmed26n0001.xml.gz" || !e.Done || e.Docs != 200 || e.Batches != 4 || e.LastIndex != 199 || len(e.SHA256) != 64 ||
		e.Topic != "pubmed" || e.BatchDocs != 64 || e.Format != "pubmed" || e.Size == 0 || e.LastBatchID != document.BatchID(e.Name, 192, 199) {
		t.Errorf("entry %+v", e)
	}
	// A changed file (same name) is published again from the start.
	data, _ = os.ReadFile(baseline)
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	xml, _ := io.ReadAll(zr)
	xml = bytes.Replace(xml, []byte("Effects of aldosterone"), []byte("Effects of Aldosterone"), 1)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(xml)
	zw.Close()
	os.WriteFile(filepath.Join(in, "pubmed26n0001.xml.gz"), gz.Bytes(), 0o644)
	fourth := &fakePublisher{}
	if sum, err := run(fourth); err != nil || len(fourth.msgs) != 4 || sum.Skipped != 1 {
		t.Errorf("changed file: %+v %v, %d messages", sum, err, len(fourth.msgs))
	}
}

func TestResumeAfterPublishFailure(t *testing.T) {
	for _, lostAck := range []bool{false, true} {
		t.Run(fmt.Sprintf("lostAck=%v", lostAck), func(t *testing.T) {
			dir := t.TempDir()
			store := FileStore(filepath.Join(dir, "m.json"))
			opts := []Option{WithBatchDocs(16), WithInflight(2), WithLogger(quiet())}

			clean := &fakePublisher{}
			if _, err := Run(context.Background(), clean, FormatPubMed, []string{baseline}, opts...); err != nil {
				t.Fatal(err)
			}
			want := clean.batches(t) // 13 batches of up to 16

			m := NewManifest(store)
			broken := &fakePublisher{failAfter: 3, lostAck: lostAck}
			_, err := Run(context.Background(), broken, FormatPubMed, []string{baseline}, append(opts, WithManifest(m))...)
			if !errors.Is(err, errBroker) {
				t.Fatalf("err = %v", err)
			}
			m2, err := LoadManifest(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := m2.Entry("pubmed26n0001.xml.gz")
			if !ok || e.Done || e.Batches != 6 || e.LastIndex != want[5].Source.Last || e.LastBatchID != want[5].ID {
				t.Fatalf("entry after failure %+v", e)
			}
			// The rerun changes --batch-docs; the entry's settings win.
			resumed := &fakePublisher{}
			sum, err := Run(context.Background(), resumed, FormatPubMed, []string{baseline}, WithBatchDocs(50), WithManifest(m2), WithLogger(quiet()))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Resumed != 1 || sum.AlreadyPublished != 96 || sum.Docs != 104 {
				t.Errorf("summary %+v", sum)
			}
			got := append(broken.batches(t)[:6], resumed.batches(t)...)
			if !slices.Equal(batchIDs(got), batchIDs(want)) {
				t.Errorf("batch ids after resume\n got %v\nwant %v", batchIDs(got), batchIDs(want))
			}
			if lostAck {
				// The unacknowledged batches were sent and are sent again
				// with the same id and bytes: recognisable downstream.
				lost := broken.msgs[6]
				if !bytes.Equal(lost.Value, resumed.msgs[0].Value) || string(lost.Key) != string(resumed.msgs[0].Key) {
					t.Error("replayed batch differs from the lost one")
				}
			}
			if e, _ := m2.Entry("pubmed26n0001.xml.gz"); !e.Done || e.Docs != 200 || e.Batches != 13 {
				t.Errorf("final entry %+v", e)
			}
		})
	}
}

func TestRunJSONLRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "docs.jsonl")
	lines := []string{
		`{"id":"a","text":"one"}`,
		`{"id":"b","text":`,
		`{"id":"","text":"empty id"}`,
		`{"id":"c","title":"T","text":"two","version":3}`,
		`{"id":"big","text":"` + strings.Repeat("x", 2000) + `"}`,
		`{"id":"d","op":"delete"}`,
	}
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(lines, "\n")))
	zw.Close()
	gzPath := filepath.Join(dir, "more.jsonl.gz")
	os.WriteFile(gzPath, gz.Bytes(), 0o644)

	pub := &fakePublisher{}
	var rej bytes.Buffer
	sum, err := Run(context.Background(), pub, FormatJSONL, []string{path, gzPath, sample},
		WithRejects(document.NewRejectSink(&rej)), WithMaxDocBytes(1000), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	bs := pub.batches(t)
	if got := docIDs(bs[:2]); !slices.Equal(got, []string{"a/upsert", "c/upsert", "d/delete", "a/upsert", "c/upsert", "d/delete"}) {
		t.Errorf("docs %v", got)
	}
	if bs[0].Source != (document.Source{File: "docs.jsonl", First: 1, Last: 6}) {
		t.Errorf("source %+v", bs[0].Source)
	}
	var rejLines []document.Reject
	for _, l := range strings.Split(strings.TrimSpace(rej.String()), "\n") {
		var r document.Reject
		json.Unmarshal([]byte(l), &r)
		rejLines = append(rejLines, r)
	}
	// Per file: line 2 (bad JSON), 3 (empty id), 5 (too big); the sample's
	// long document (134 KB) is over this run's 1000-byte limit too.
	if len(rejLines) != 7 || sum.Rejected != 7 {
		t.Fatalf("rejects (%d, summary %d):\n%s", len(rejLines), sum.Rejected, rej.String())
	}
	for i, want := range []int64{2, 3, 5} {
		if r := rejLines[i]; r.File != "docs.jsonl" || r.Line != want {
			t.Errorf("reject %d: %+v", i, r)
		}
	}
	if r := rejLines[6]; r.File != "sample.jsonl" || r.Line != 4 || !strings.Contains(r.Error, "line longer than") {
		t.Errorf("sample reject %+v", r)
	}
}

func TestRunBrokenFileContinues(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(baseline)
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	xml, _ := io.ReadAll(zr)
	cut := bytes.Index(xml, []byte(`<PMID Version="1">96279126</PMID>`))
	broken := filepath.Join(dir, "pubmed26n0002.xml")
	os.WriteFile(broken, xml[:cut+5], 0o644)
	store := FileStore(filepath.Join(dir, "m.json"))
	m := NewManifest(store)
	pub := &fakePublisher{}
	var rej bytes.Buffer
	sum, err := Run(context.Background(), pub, FormatPubMed, []string{broken, update},
		WithManifest(m), WithRejects(document.NewRejectSink(&rej)), WithLogger(quiet()))
	if err == nil || !strings.Contains(err.Error(), "pubmed26n0002.xml") || !strings.Contains(err.Error(), "bytes lost") {
		t.Fatalf("err = %v", err)
	}
	if sum.Failed != 1 || sum.Published != 1 {
		t.Errorf("summary %+v", sum)
	}
	e, _ := m.Entry("pubmed26n0002.xml")
	ids := docIDs(pub.batches(t))
	if e.Done || e.Error == "" || e.Docs == 0 || int(e.Docs)+6 != len(ids) || !strings.Contains(rej.String(), "stopped reading") {
		t.Errorf("entry %+v, %d docs published, rejects %s", e, len(ids), rej.String())
	}
	if u, _ := m.Entry("pubmed26n1300.xml.gz"); !u.Done {
		t.Error("the file after the broken one was not published")
	}
}

func TestInputs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.xml.gz", "a.xml", "c.txt", "d.jsonl", "e.xml.gz.part"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub.xml"), 0o755)
	got, skipped, err := Inputs(FormatPubMed, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml.gz")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	slices.Sort(skipped)
	var wantSkipped []string
	for _, n := range []string{"c.txt", "d.jsonl", "e.xml.gz.part", "sub.xml"} {
		wantSkipped = append(wantSkipped, filepath.Join(dir, n))
	}
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("skipped %v, want %v (every entry left out is reported)", skipped, wantSkipped)
	}
	if _, _, err := Inputs(FormatPubMed, []string{dir, filepath.Join(dir, "a.xml")}); err == nil || !strings.Contains(err.Error(), "same base name") {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := Inputs(FormatJSONL, []string{filepath.Join(dir, "sub.xml")}); err == nil {
		t.Error("empty directory accepted")
	}
	if _, _, err := Inputs(FormatPubMed, []string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing input accepted")
	}
}

func TestManifestStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, loc := range []string{filepath.Join(dir, "plain.json"), "file://" + dir + "/sub/url.json"} {
		st, closeFn, err := OpenManifestStore(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadManifest(ctx, st)
		if err != nil || len(m.Entries()) != 0 {
			t.Fatalf("%s: %v", loc, err)
		}
		if err := m.Put(ctx, FileEntry{Name: "f.xml", Size: 3, LastIndex: 7, Done: true}); err != nil {
			t.Fatal(err)
		}
		closeFn()
		st, closeFn, _ = OpenManifestStore(ctx, loc)
		m, err = LoadManifest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := m.Entry("f.xml"); !ok || e.LastIndex != 7 || !e.Done || e.Updated.IsZero() {
			t.Errorf("%s: entry %+v", loc, e)
		}
		closeFn()
	}
	if _, _, err := OpenManifestStore(ctx, "file://"+dir+"/"); err == nil {
		t.Error("directory URL accepted")
	}
	bad := FileStore(filepath.Join(dir, "bad.json"))
	os.WriteFile(string(bad), []byte(`{"version":9,"files":[]}`), 0o644)
	if _, err := LoadManifest(ctx, bad); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("bad version: %v", err)
	}
}

// cancelPublisher cancels the run's context during its second call, as a
// SIGTERM would.
type cancelPublisher struct {
	fakePublisher
	cancel context.CancelFunc
}

func (c *cancelPublisher) Publish(ctx context.Context, msgs ...queue.Message) error {
	if c.calls == 1 {
		c.cancel()
		return ctx.Err()
	}
	return c.fakePublisher.Publish(ctx, msgs...)
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &cancelPublisher{cancel: cancel}
	m := NewManifest(nil)
	_, err := Run(ctx, pub, FormatPubMed, []string{baseline}, WithBatchDocs(8), WithInflight(2), WithManifest(m), WithLogger(quiet()))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	e, _ := m.Entry("pubmed26n0001.xml.gz")
	if e.Done || e.Batches != 2 || e.LastIndex != 15 || len(pub.msgs) != 2 {
		t.Errorf("entry %+v after %d messages", e, len(pub.msgs))
	}
}

// TestRunRejectsDuplicatesInOneBatch: the later of two lines with the same
// id and version in one batch is rejected naming both lines (the worker
// would dead-letter it; `worker annotate` refuses it), the rest published.
func TestRunRejectsDuplicatesInOneBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dup.jsonl")
	lines := []string{
		`{"id":"a","text":"one","version":1}`,
		`{"id":"b","text":"two"}`,
		`{"id":"a","text":"one again","version":1}`,
		`{"id":"a","text":"revised","version":2}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := &fakePublisher{}
	var rej bytes.Buffer
	sum, err := Run(context.Background(), pub, FormatJSONL, []string{path}, WithRejects(document.NewRejectSink(&rej)), WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if got := docIDs(pub.batches(t)); !slices.Equal(got, []string{"a/upsert", "b/upsert", "a/upsert"}) || sum.Docs != 3 || sum.Rejected != 1 {
		t.Fatalf("published %v (summary %+v)", got, sum)
	}
	var r document.Reject
	if err := json.Unmarshal(rej.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.File != "dup.jsonl" || r.Line != 3 || r.ID != "a" || !strings.Contains(r.Error, "duplicate of position 1") {
		t.Fatalf("reject %+v, want line 3 naming line 1", r)
	}
}
