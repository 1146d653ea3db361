package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/pubmed"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
)

func (c *cluster) runProducer(args ...string) string {
	c.t.Helper()
	bin := filepath.Join(binaries(c.t), "producer")
	if _, err := os.Stat(bin); err != nil {
		c.t.Fatalf("producer binary missing: %v", err)
	}
	full := append([]string{"pubmed", "--brokers", strings.Join(c.addrs, ","), "--topic", c.topic, "--partitions", "4",
		"--progress", "off"}, args...)
	out, err := exec.Command(bin, full...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("producer %v: %v\n%s", full, err, out)
	}
	return string(out)
}

func (c *cluster) hwm() map[int]int64 {
	c.t.Helper()
	h, err := queue.HighWatermarks(context.Background(), queue.Config{Brokers: c.addrs}, c.topic)
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// waitCovered waits until the files under mdir cover every record produced.
func (c *cluster) waitCovered(mdir string, timeout time.Duration) []sink.Row {
	c.t.Helper()
	st, err := sink.OpenBucket(context.Background(), c.outURL)
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	hwm := c.hwm()
	deadline := time.Now().Add(timeout)
	for {
		covered := true
		for p, h := range hwm {
			last, ok, err := st.LastOffset(context.Background(), mdir, c.topic, p)
			if err != nil {
				c.t.Fatal(err)
			}
			if h > 0 && (!ok || last+1 < h) {
				covered = false
			}
		}
		if covered {
			rows, err := st.ReadAll(context.Background(), mdir)
			if err != nil {
				c.t.Fatal(err)
			}
			return rows
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("output %s does not cover high-water marks %v after %s", mdir, hwm, timeout)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func parsedPubMed(t *testing.T) []pubmed.Record {
	t.Helper()
	var recs []pubmed.Record
	files, _ := filepath.Glob("../testdata/pubmed/*.xml.gz")
	if len(files) < 2 {
		t.Fatalf("PubMed test files missing: %v", files)
	}
	for _, f := range files {
		if _, err := pubmed.ParseFile(context.Background(), f, func(r pubmed.Record) error { recs = append(recs, r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// TestPubMedProducerToBucket: producer → 4 partitions → 2 workers → bucket,
// with DeleteCitation tombstones, a nightly re-run that publishes nothing,
// a poison message that is dead-lettered, and a replay with a new model into
// a new prefix that leaves the old output untouched.
func TestPubMedProducerToBucket(t *testing.T) {
	c := newCluster(t, 4)
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	c.runProducer("--manifest", manifest, "../testdata/pubmed")
	// Per-document packing, so that the check below can annotate the
	// documents without knowing how the producer batched them.
	c.extra = append(c.extra, "--packing", "document")
	c.startWorker(0)
	c.startWorker(1)
	mdir := modelDir(t)
	rows := c.waitCovered(mdir, 120*time.Second)

	recs := parsedPubMed(t)
	type dv struct {
		id  string
		ver int32
		op  string
	}
	markers := map[dv]int{}
	chunks := map[string]int{}
	for _, r := range rows {
		if r.ChunkIndex == sink.DocumentMarker {
			markers[dv{r.DocID, r.DocVersion, r.Op}]++
		} else {
			chunks[fmt.Sprintf("%s/v%d/%d", r.DocID, r.DocVersion, r.ChunkIndex)]++
		}
	}
	var upserts []document.Document
	deletes := 0
	for _, r := range recs {
		op := string(r.Doc.Op)
		if op == "" {
			op = string(document.OpUpsert)
		}
		if n := markers[dv{r.Doc.ID, int32(r.Doc.Version), op}]; n != 1 {
			t.Fatalf("record %s v%d %s has %d marker rows, want 1", r.Doc.ID, r.Doc.Version, op, n)
		}
		if r.Doc.Op == document.OpDelete {
			deletes++
		} else {
			upserts = append(upserts, r.Doc)
		}
	}
	if deletes == 0 {
		t.Fatal("the update file has no DeleteCitation: the test proves nothing about deletes")
	}
	for k, n := range chunks {
		if n != 1 {
			t.Fatalf("chunk %s appears %d times", k, n)
		}
	}
	// Chunks equal an in-process annotation of the same texts (version by version).
	want := map[string]int{}
	byVersion := map[int][]document.Document{}
	for _, d := range upserts {
		byVersion[d.Version] = append(byVersion[d.Version], d)
	}
	for v, docs := range byVersion {
		for id, cs := range annotateInProcess(t, docs, 0) {
			for _, ch := range cs {
				want[fmt.Sprintf("%s/v%d/%d", id, v, ch.ChunkIndex)]++
			}
		}
	}
	if len(want) != len(chunks) {
		t.Fatalf("%d chunks in the bucket, %d from worker annotate", len(chunks), len(want))
	}
	t.Logf("%d records (%d deletes), %d chunks, each exactly once", len(recs), deletes, len(chunks))

	// Nightly re-run over the same directory: nothing new is published.
	before := c.hwm()
	c.runProducer("--manifest", manifest, "../testdata/pubmed")
	if after := c.hwm(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("re-run published again: high-water marks %v → %v", before, after)
	}

	// Poison: not a batch message → DLQ, offset still covered.
	pub, err := queue.NewPublisher(context.Background(), c.b.Addrs(), c.topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(context.Background(), queue.Message{Key: []byte("poison"), Value: []byte("<PubmedArticle>not json")}); err != nil {
		t.Fatal(err)
	}
	pub.Close()
	c.waitCovered(mdir, 60*time.Second)
	dlq, err := queue.HighWatermarks(context.Background(), queue.Config{Brokers: c.addrs}, c.topic+".dlq")
	if err != nil || dlq[0] != 1 {
		t.Fatalf("dead-letter topic high-water marks %v (%v), want one record", dlq, err)
	}
	c.stopAll()

	// Replay with an upgraded model: a new bundle name/version gets its own
	// group and output prefix; the old files are not touched.
	oldFiles := listFiles(t, c.out)
	next := filepath.Join(t.TempDir(), "tinybert-next")
	copyDir(t, testModel, next)
	nb, err := model.LoadBundle(next)
	if err != nil {
		t.Fatal(err)
	}
	ndir, _ := sink.ModelDir(nb.Name, nb.Version)
	c.group = "" // default group derives from the model
	c.startWorker(2, "--model", next)
	replayed := c.waitCovered(ndir, 120*time.Second)
	c.stopAll()
	if len(replayed) != len(rows)+0 {
		// The poison record adds no rows; everything else is re-annotated.
		t.Fatalf("replay wrote %d rows, the first model %d", len(replayed), len(rows))
	}
	if got := listFiles(t, c.out); !strings.Contains(strings.Join(got, "\n"), ndir) || !subset(oldFiles, got) {
		t.Fatalf("replay did not write a new prefix beside the old one:\nold %v\nnow %v", oldFiles, got)
	}
}

func listFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			out = append(out, fmt.Sprintf("%s@%d", strings.TrimPrefix(p, dir), info.ModTime().UnixNano()))
		}
		return nil
	})
	return out
}

func subset(a, b []string) bool {
	m := map[string]bool{}
	for _, x := range b {
		m[x] = true
	}
	for _, x := range a {
		if !m[x] {
			return false
		}
	}
	return true
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(to, 0o755)
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
}
