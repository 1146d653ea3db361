package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerstream/nerstream/internal/apachekafka"
)

// TestDemoOnApacheKafka: `worker demo --brokers` (what `make demo
// KAFKA=apache` runs) on the test binary's Apache Kafka: the same report as
// on the embedded broker, and a second run over the same data directory and
// broker resumes and publishes nothing.
func TestDemoOnApacheKafka(t *testing.T) {
	bin := filepath.Join(binaries(t), "worker")
	k := apachekafka.Shared(t)
	data := t.TempDir()
	brokers := strings.Join(k.Addrs(), ",")
	run := func() string {
		cmd := exec.Command(bin, "demo", "--model", testModel, "--data-dir", data, "--input", "../testdata/pubmed",
			"--gold", develDocsPath(), "--timeout", "3m", "--brokers", brokers, "--topic", "demo-apache")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("worker demo --brokers %s: %v\n%s", brokers, err, out)
		}
		return string(out)
	}
	first := run()
	for _, want := range []string{"demo: Kafka brokers " + brokers, "203 annotated, 3 delete tombstones", "docs/s", "against gold", "read_parquet("} {
		if !strings.Contains(first, want) {
			t.Fatalf("demo on Apache Kafka lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "embedded") {
		t.Fatalf("demo with --brokers started the embedded broker:\n%s", first)
	}
	second := run()
	if !strings.Contains(second, "nothing new to annotate") || !strings.Contains(second, "203 annotated") {
		t.Fatalf("second demo run on Apache Kafka did not resume:\n%s", second)
	}
}
