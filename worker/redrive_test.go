package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/producer/redrive"
)

// TestRedriveDeadLetters: 12 documents and a 100 KB one go out in records
// of 3; a worker with a 3000-byte --max-batch-bytes annotates the last
// record (one document, under the limit) and dead-letters the others
// document by document (batch_too_large), the 100 KB one as an excerpt
// (document_too_large). Restarted with the
// default limits, it annotates nothing of them; `producer redrive` then
// re-publishes the valid documents to the source topic, and each ends up in
// the output exactly once, equal to worker annotate; the excerpt is reported
// skipped. A second redrive publishes nothing. On kfake and Apache Kafka.
func TestRedriveDeadLetters(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(string(kind), func(t *testing.T) { testRedriveDeadLetters(t, kind) })
	}
}

func testRedriveDeadLetters(t *testing.T, kind brokerKind) {
	c := newClusterOn(t, kind, 1)
	docs := testDocs(t, 12)
	big := document.Document{ID: "big-1", Text: strings.Repeat("IL-2 binds NF-kappa B. ", 4500), Version: 1}
	c.publish(append(slices.Clone(docs[:6]), append([]document.Document{big}, docs[6:]...)...), 3, 0)
	c.startWorker(0, "--max-batch-bytes", "3000", "--max-doc-bytes", "4000")
	dlq := c.topic + ".dlq"
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		hwm, err := queue.HighWatermarks(context.Background(), queue.Config{Brokers: c.addrs}, dlq)
		if err == nil && hwm[0] >= int64(len(docs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters in %s after 120s: %v (%v), want %d", dlq, hwm, err, len(docs))
		}
	}
	c.stopAll()
	c.startWorker(1) // default limits: the dead-lettered records are behind its committed offset
	c.waitJoined(1, 60*time.Second)

	dir := t.TempDir()
	manifest := filepath.Join(dir, "redrive.json")
	rep := runRedrive(t, c, dir, "--from", dlq, "--redrive-manifest", manifest)
	dead := len(docs) - 1 // docs[11] was annotated at once
	if rep.Redriven.Count != dead || rep.Redriven.ByReason[document.ReasonBatchTooLarge] != dead || rep.Topics[c.topic] != dead {
		t.Fatalf("redriven %+v to %v, want the %d dead-lettered valid documents as batch_too_large to %s", rep.Redriven, rep.Topics, dead, c.topic)
	}
	if s := rep.Skipped[redrive.SkipExcerptOnly]; s == nil || s.Count != 1 || !slices.Equal(s.IDs, []string{big.ID}) {
		t.Fatalf("skipped %+v, want %s as excerpt_only", rep.Skipped, big.ID)
	}
	rows := c.waitRows(ids(docs), 120*time.Second)
	checkCurrentOnce(t, rows, docs)
	checkExactlyOnce(t, rows, docs, dead) // records: the redriven batch of 11, then docs[11] alone

	// A second run publishes nothing: the manifest lists every dead letter.
	before, err := queue.HighWatermarks(context.Background(), queue.Config{Brokers: c.addrs}, c.topic)
	if err != nil {
		t.Fatal(err)
	}
	rep = runRedrive(t, c, dir, "--from", dlq, "--redrive-manifest", manifest)
	after, err := queue.HighWatermarks(context.Background(), queue.Config{Brokers: c.addrs}, c.topic)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Redriven.Count != 0 || rep.Batches != 0 || after[0] != before[0] {
		t.Fatalf("second redrive: %+v, %d batches, topic end %v → %v; want nothing published", rep.Redriven, rep.Batches, before, after)
	}
	if s := rep.Skipped[redrive.SkipAlreadyRedriven]; s == nil || s.Count < dead {
		t.Fatalf("second redrive skipped %+v, want %d already redriven", rep.Skipped, dead)
	}
	c.stopAll()
}

// runRedrive runs `producer redrive` against the cluster and returns its
// --report.
func runRedrive(t *testing.T, c *cluster, dir string, args ...string) redrive.Report {
	t.Helper()
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(filepath.Join(binaries(t), "producer"), append([]string{"redrive", "--brokers", strings.Join(c.addrs, ","),
		"--report", report}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("producer redrive: %v\n%s", err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep redrive.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report %s: %v", data, err)
	}
	t.Logf("producer redrive:\n%s", out)
	return rep
}

// checkCurrentOnce checks that each document has one marker row: one copy
// of its version in the output.
func checkCurrentOnce(t *testing.T, rows []sink.Row, docs []document.Document) {
	t.Helper()
	markers := map[string]int{}
	for _, r := range rows {
		if r.ChunkIndex == sink.DocumentMarker {
			markers[r.DocID]++
		}
	}
	for _, d := range docs {
		if markers[d.ID] != 1 {
			t.Errorf("document %s: %d copies in the output, want 1", d.ID, markers[d.ID])
		}
	}
}
