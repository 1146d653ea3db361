package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/nerstream/nerstream/internal/broker"
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/producer/ingest"
)

// readTopic returns every record of topic, waiting until want have arrived.
func readTopic(t *testing.T, addrs []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	// Anything beyond want would be a duplicate: look briefly.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	return recs
}

// TestProducerAgainstBroker publishes the PubMed test files to the embedded
// broker through the real queue.Publisher, then reruns with the manifest
// and checks that nothing is published twice.
func TestProducerAgainstBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx := context.Background()
	b, err := broker.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.json")
	rejects := filepath.Join(dir, "rejects.jsonl")
	args := []string{"--brokers", strings.Join(b.Addrs(), ","), "--topic", "docs", "--partitions", "3",
		"--manifest", manifest, "--rejects", rejects, "--progress", "off", "--log-level", "warn", "../testdata/pubmed"}
	if err := run(ctx, ingest.FormatPubMed, args, false); err != nil {
		t.Fatal(err)
	}
	recs := readTopic(t, b.Addrs(), "docs", 5)
	if len(recs) != 5 {
		t.Fatalf("%d records on the topic, want 5", len(recs))
	}
	docs, parts := 0, map[int32]bool{}
	for _, r := range recs {
		bt, err := document.DecodeBatch(r.Value, document.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != bt.ID {
			t.Errorf("key %q for batch %s", r.Key, bt.ID)
		}
		docs += len(bt.Documents)
		parts[r.Partition] = true
	}
	if docs != 206 || len(parts) < 2 {
		t.Errorf("%d docs over partitions %v", docs, parts)
	}
	// The nightly rerun publishes nothing new.
	t.Setenv("NERSTREAM_BROKERS", strings.Join(b.Addrs(), ","))
	if err := run(ctx, ingest.FormatPubMed, args[2:], false); err != nil {
		t.Fatal(err)
	}
	if again := readTopic(t, b.Addrs(), "docs", 5); len(again) != 5 {
		t.Errorf("%d records after the rerun, want 5", len(again))
	}
	if data, _ := os.ReadFile(manifest); !strings.Contains(string(data), `"done": true`) {
		t.Errorf("manifest %s", data)
	}
}

func TestProducerFlagErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"../testdata/pubmed"}, "--brokers"},
		{[]string{"--dry-run"}, "no input"},
		{[]string{"--dry-run", "--progress", "sometimes", "../testdata/pubmed"}, "--progress"},
		{[]string{"--dry-run", "/nonexistent"}, "no such file"},
		{[]string{"--dry-run", "--batch-docs", "0", "../testdata/pubmed"}, "must be positive"},
	} {
		t.Setenv("NERSTREAM_BROKERS", "")
		err := run(ctx, ingest.FormatPubMed, append([]string{"--log-level", "error"}, tc.args...), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
